"""Write a supervision report as CSV (UTF-8 with BOM), JSON and one self-contained HTML page.

The BOM makes spreadsheet programs common in bureaus open Chinese text
correctly. The HTML page has no scripts and no external resources: charts
are inline SVG, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from node.audit.report import DIMENSIONS

__all__ = ["write_report"]

_COLUMNS = ("trainees", "sessions_credited", "credited_online_hours", "credited_offline_hours",
            "claims_filed", "claimed_yuan", "claims_paid", "paid_yuan", "rejected_attempts")


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """Write every file under ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = [_write_table(out / f"{dim}.csv", dim, report["tables"][dim]) for dim in DIMENSIONS]
    written.append(_write_rejections(out / "rejections.csv", report["tables"]))
    written.append(_write_signals(out / "signals.csv", report["signals"]))
    path = out / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    written.append(path)
    path = out / "report.html"
    path.write_text(render_html(report), "utf-8")
    written.append(path)
    return written


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _columns(dim: str, rows: list[dict[str, Any]]) -> list[str]:
    """The key, any label columns (e.g. a city's name), then the figures."""
    labels = [k for k in (rows[0] if rows else {}) if k not in (dim, *_COLUMNS, "rejected_by_code")]
    return [dim, *labels, *_COLUMNS]


def _write_table(path: Path, dim: str, rows: list[dict[str, Any]]) -> Path:
    columns = _columns(dim, rows)
    return _csv(path, columns, [[r[c] for c in columns] for r in rows])


def _write_rejections(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    rows = [
        [dim, row[dim], code, count]
        for dim in DIMENSIONS
        for row in tables[dim]
        for code, count in row["rejected_by_code"].items()
    ]
    return _csv(path, ["dimension", "key", "error_code", "count"], rows)


def _write_signals(path: Path, signals: dict[str, list[dict[str, Any]]]) -> Path:
    rows = [
        [name, item["subject"], item["count"], " ".join(map(str, item["heights"])),
         " ".join(item["tx_hashes"])]
        for name, items in signals.items()
        for item in items
    ]
    return _csv(path, ["signal", "subject", "count", "heights", "tx_hashes"], rows)


# -- HTML -------------------------------------------------------------------------------


def render_html(report: dict[str, Any]) -> str:
    """One page: summary, charts, tables, signals with evidence."""
    tables = report["tables"]
    parts = [
        f"<h1>skillchain supervision report — {html.escape(report['chain_id'])}</h1>",
        f"<p>{report['blocks']} blocks, {report['txs']} txs, replayed and verified "
        "from genesis. Signals are leads for review, not findings.</p>",
        "<h2>Credited online hours per provider</h2>",
        _bar_chart([(r["provider"], r["credited_online_hours"]) for r in tables["provider"]]),
        "<h2>Paid subsidies per city (yuan)</h2>",
        _bar_chart([(f"{r['city']} {r.get('name', '')}".strip(), r["paid_yuan"])
                    for r in tables["city"]]),
        "<h2>Rejected attempts by error code</h2>",
        _bar_chart(_codes(tables["provider"])),
    ]
    for dim in DIMENSIONS:
        parts += [f"<h2>Per {dim}</h2>", _table(dim, tables[dim])]
    parts.append("<h2>Soft fraud signals</h2>")
    for name, items in report["signals"].items():
        parts.append(f"<h3>{html.escape(name)} ({len(items)})</h3>")
        parts.append(_signal_list(items))
    return _PAGE.format(body="\n".join(parts))


def _codes(rows: list[dict[str, Any]]) -> list[tuple[str, float]]:
    totals: dict[str, int] = {}
    for row in rows:
        for code, count in row["rejected_by_code"].items():
            totals[code] = totals.get(code, 0) + count
    return sorted(totals.items(), key=lambda kv: -kv[1])


def _bar_chart(bars: list[tuple[str, float]]) -> str:
    """A horizontal bar chart as inline SVG."""
    if not bars:
        return "<p>(nothing to show)</p>"
    top = max(value for _, value in bars) or 1
    row_h, label_w, bar_w = 22, 200, 420
    rows = []
    for i, (label, value) in enumerate(bars):
        y = i * row_h
        width = int(bar_w * value / top)
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{html.escape(str(label))}'
            f'</text><rect x="{label_w}" y="{y + 3}" width="{width}" height="{row_h - 6}" '
            f'fill="#3b7dd8"/><text x="{label_w + width + 4}" y="{y + 15}">{value:,}</text>'
        )
    height = row_h * len(bars)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 120}" '
            f'height="{height}" font-size="12">{"".join(rows)}</svg>')


def _table(dim: str, rows: list[dict[str, Any]]) -> str:
    columns = _columns(dim, rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _signal_list(items: list[dict[str, Any]]) -> str:
    if not items:
        return "<p>none</p>"
    shown = items[:50]
    lis = "".join(
        f"<li>{html.escape(i['subject'])}<br><small>heights {i['heights'][:10]}; txs "
        f"{', '.join(t[:16] + '…' for t in i['tx_hashes'][:5])}</small></li>"
        for i in shown
    )
    hidden = len(items) - len(shown)
    more = f"<p>… and {hidden} more (see signals.csv)</p>" if hidden else ""
    return f"<ul>{lis}</ul>{more}"


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>skillchain supervision report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:2px 6px}}
th{{background:#eef}}</style></head><body>
{body}
</body></html>
"""
