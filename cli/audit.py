"""``skillchain audit``: replay, export, credentials and the supervision report.

An auditor needs nothing but ``genesis.json``: every command here verifies
what it reads against it (or, for ``credential``, packages what a later
offline check will verify). Errors print as ``error[code]: message`` with
exit status 2; a chain that fails to verify exits with status 1 after its
report.

The group does not import ``cli.main`` (which registers it), so either module
can be imported first.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from chain.errors import SkillchainError

__all__ = ["audit"]

EXIT_MISMATCH = 1
EXIT_ERROR = 2


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Typed errors become ``error[code]: message`` (or JSON) and exit status 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SkillchainError as exc:
            _fail(exc.code, exc.message, kwargs.get("as_json", False))
        except OSError as exc:
            _fail("file_error", f"{exc.filename or ''}: {exc.strerror or exc}", False)

    return wrapper


def _fail(code: str, message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"code": code, "message": message}, ensure_ascii=False))
    else:
        click.echo(f"error[{code}]: {message}", err=True)
    sys.exit(EXIT_ERROR)


_json = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
_genesis = click.option(
    "--genesis",
    "genesis_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The genesis file you trust (the only root of trust).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def audit() -> None:
    """Verify the chain from genesis, export it, check learning credentials, report."""


# -- replay -------------------------------------------------------------------------


@audit.command("replay")
@_genesis
@click.option("--from", "where", required=True, help="Node URL or export directory.")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("audit-data"),
    show_default=True,
    help="Local LevelDB for the replayed chain (a second run resumes from it).",
)
@click.option("--workers", type=click.IntRange(1, 256), help="Signature processes [all cores].")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON report to this file.")
@_json
@_friendly
def replay_command(
    genesis_path: Path,
    where: str,
    data: Path,
    workers: int | None,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Re-verify every block from genesis: hash chain, certificates, signatures, roots."""
    from chain.genesis import load_genesis
    from node.audit.replay import replay
    from node.audit.source import open_source

    genesis, genesis_hash = load_genesis(genesis_path)
    source = open_source(where)
    bar: list[Any] = []
    try:
        report = replay(
            genesis, genesis_hash, source, data, workers,
            on_start=lambda first, last: bar.extend(_progress(last - first + 1, "replaying")),
            on_block=lambda _txs: bar[0].update(1) if bar else None,
        )
    finally:
        if bar:
            bar[0].render_finish()
        source.close()
    data_json = report.to_json()
    if report_path is not None:
        report_path.write_text(json.dumps(data_json, indent=1, ensure_ascii=False), "utf-8")
    click.echo(json.dumps(data_json, ensure_ascii=False) if as_json else _replay_human(data_json))
    if not report.ok:
        sys.exit(EXIT_MISMATCH)


def _progress(length: int, label: str) -> list[Any]:
    """A started progress bar on stderr (in a list: none when there is nothing to do)."""
    if length <= 0:
        return []
    bar = click.progressbar(length=length, label=label, file=sys.stderr)
    bar.__enter__()
    return [bar]


def _replay_human(r: dict[str, Any]) -> str:
    lines = [
        f"chain {r['chain_id']} (genesis {r['genesis_hash'][:16]}…), store {r['data_dir']}",
        f"replayed heights {r['resumed_from'] + 1}..{r['head']}: {r['blocks']} blocks, "
        f"{r['txs']} txs ({r['rejected_txs']} rejected, kept as evidence) "
        f"in {r['seconds']} s ({r['tx_per_s']} tx/s)",
    ]
    if r["validator_set_changes"]:
        lines.append(f"validator set changed for heights {r['validator_set_changes']}")
    m = r["mismatch"]
    if m is None:
        lines.append(
            f"OK: every hash link, certificate, signature and root verified up to height "
            f"{r['head']}; state root {r['state_root']}"
        )
    else:
        lines += [
            f"MISMATCH at height {m['height']}: {m['what']}",
            f"  {m['detail']}",
            f"  block hash {m['block_hash']}",
            f"  certificate signed by: {', '.join(m['signers']) or '(no certificate)'}",
            f"  the local store stays at height {r['head']} (verified); fix the source and rerun",
        ]
    return "\n".join(lines)


# -- export -------------------------------------------------------------------------


@audit.command("export")
@click.option("--from", "where", required=True, help="Node URL to read blocks from.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write (must not hold an export already).")
@click.option("--genesis", "genesis_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Copy this genesis file alongside (convenience only).")
@_json
@_friendly
def export_command(where: str, out: Path, genesis_path: Path | None, as_json: bool) -> None:
    """Write every block and certificate as files, with a manifest of sha256 hashes."""
    from node.audit.export import export_chain
    from node.audit.source import RemoteSource

    source = RemoteSource(where)
    bar = _progress(source.head(), "exporting")
    try:
        manifest = export_chain(source, out, genesis_path, bar[0].update if bar else _noop)
    finally:
        if bar:
            bar[0].render_finish()
        source.close()
    summary = {"out": str(out), "head": manifest["head"], "files": len(manifest["files"]),
               "chain_id": manifest["chain_id"]}
    click.echo(json.dumps(summary) if as_json else
               f"exported blocks 1..{summary['head']} of {summary['chain_id']} into "
               f"{summary['files']} file(s) under {out}; replay with "
               f"`skillchain audit replay --genesis genesis.json --from {out}`")


def _noop(_: int) -> None:
    """A progress callback that does nothing."""
