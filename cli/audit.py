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
        f"in {r['seconds']} s ({r['tx_per_s']} tx/s; re-execution {r['execute_s']} s, "
        f"waiting for signature workers {r['signature_wait_s']} s)",
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


# -- credentials --------------------------------------------------------------------


@audit.command("credential")
@click.option("--trainee", required=True, help="Trainee pseudonym (64 hex characters).")
@click.option("--class", "class_id", required=True, help="Class id.")
@click.option("--from", "where", help="Node URL serving GET /v1/credential.")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Or build it from a replayed store (needs --genesis).")
@click.option("--genesis", "genesis_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Genesis of the --data store.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_json
@_friendly
def credential_command(
    trainee: str, class_id: str, where: str | None, data: Path | None,
    genesis_path: Path | None, out: Path, as_json: bool,
) -> None:
    """Write one self-contained, offline-verifiable learning credential file."""
    from node.audit.errors import AuditError

    if (where is None) == (data is None):
        raise AuditError("give exactly one of --from URL and --data DIR")
    if data is not None:
        if genesis_path is None:
            raise AuditError("--data needs --genesis")
        bundle = _credential_from_store(data, genesis_path, class_id, _trainee_bytes(trainee))
    else:
        bundle = _credential_from_node(str(where), class_id, trainee)
    text = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    out.write_text(text, "utf-8")
    summary = {"out": str(out), "bytes": len(text.encode()), "height": bundle.get("height")}
    click.echo(json.dumps(summary) if as_json else
               f"wrote {out} ({summary['bytes']} bytes, as of block {summary['height']}); "
               f"check it with `skillchain audit verify-credential {out} --genesis genesis.json`")


def _trainee_bytes(text: str) -> bytes:
    from node.audit.errors import AuditError

    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise AuditError("--trainee must be 64 hex characters (the pseudonym)")
    return value


def _credential_from_store(
    data: Path, genesis_path: Path, class_id: str, trainee: bytes
) -> dict[str, Any]:
    from chain.genesis import load_genesis
    from node.audit.credential import build_credential
    from storage.store import Store

    genesis, genesis_hash = load_genesis(genesis_path)
    store = Store.open(data, genesis.suite, genesis.chain_id, genesis_hash)
    try:
        return build_credential(store, genesis_hash, class_id, trainee)
    finally:
        store.close()


def _credential_from_node(url: str, class_id: str, trainee: str) -> dict[str, Any]:
    import asyncio

    from node.audit.errors import SourceError
    from node.client import Client, ClientError

    async def fetch() -> dict[str, Any]:
        async with Client(url) as client:
            return await client._call(  # noqa: SLF001 - the client has no named call yet
                "GET", "/v1/credential", params={"class": class_id, "trainee": trainee})

    try:
        return asyncio.run(fetch())
    except ClientError as exc:
        raise SourceError(f"{url}: [{exc.code}] {exc.message}") from None


@audit.command("verify-credential")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_genesis
@_json
@_friendly
def verify_credential_command(file: Path, genesis_path: Path, as_json: bool) -> None:
    """Verify a credential file offline against genesis and print what it proves."""
    from chain.credential import CredentialError, verify_credential
    from chain.genesis import load_genesis

    genesis, genesis_hash = load_genesis(genesis_path)
    try:
        bundle = json.loads(file.read_text("utf-8"))
    except ValueError as exc:
        raise CredentialError(f"{file} is not JSON: {exc}") from None
    facts = verify_credential(bundle, genesis, genesis_hash).to_json()
    click.echo(json.dumps({"ok": True, **facts}, ensure_ascii=False) if as_json
               else _credential_human(facts))


def _credential_human(f: dict[str, Any]) -> str:
    import datetime

    when = datetime.datetime.fromtimestamp(f["time"], datetime.UTC).isoformat()
    lines = [
        "VERIFIED against genesis: "
        f"block {f['height']} ({f['block_hash'][:16]}…, {when}) of {f['chain_id']}",
        f"  certificate signed by {len(f['signers'])} validators: {', '.join(f['signers'])}"
        + (f" (after {f['validator_changes']} validator-set changes)"
           if f["validator_changes"] else ""),
        f"  trainee {f['trainee']} in class {f['class_id']}",
    ]
    if not f["found"]:
        return "\n".join([*lines, "  proves: the trainee is NOT enrolled in this class"])
    hours = lambda s: f"{(s or 0) / 3600:.1f} h"  # noqa: E731
    lines += [
        f"  theory credited online: {hours(f['theory_seconds'])} "
        f"(required {hours(f['required_theory_seconds'])})",
        f"  simulation credited: {hours(f['simulation_seconds'])}; offline practice: "
        f"{hours(f['offline_seconds'])} (practical required "
        f"{hours(f['required_practical_seconds'])})",
        "  evidence behind it: " + ", ".join(f"{n} {k}" for k, n in f["evidence"].items()),
    ]
    for cert in f["certificates"]:
        issued = datetime.datetime.fromtimestamp(cert["issue_date"], datetime.UTC).date()
        lines.append(f"  certificate: {cert['certificate_type']} level {cert['level']} "
                     f"issued {issued} by {cert['issuer_id']}")
    claim = f["claim"]
    lines.append(
        "  claim: none filed" if claim is None else
        f"  claim {claim['claim_id'][:16]}…: {claim['state']} as of block {f['height']}, "
        f"training ¥{claim['training_fen'] / 100:,.2f}, living ¥{claim['living_fen'] / 100:,.2f}")
    return "\n".join(lines)


# -- supervision report -------------------------------------------------------------


@audit.command("report")
@_genesis
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="A store built by `audit replay`.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--plausible-daily-hours", type=click.IntRange(1, 24), default=6, show_default=True,
              help="fast_study fires when theory is done faster than this many hours a day.")
@click.option("--min-failed-checks", type=click.IntRange(1), default=3, show_default=True)
@_json
@_friendly
def report_command(
    genesis_path: Path, data: Path, out: Path, plausible_daily_hours: int,
    min_failed_checks: int, as_json: bool,
) -> None:
    """Per provider, class, city, occupation figures and soft fraud signals (CSV, JSON, HTML)."""
    from chain.genesis import load_genesis
    from node.audit.report import Thresholds, build_report
    from node.audit.report_files import write_report
    from storage.store import Store

    genesis, genesis_hash = load_genesis(genesis_path)
    store = Store.open(data, genesis.suite, genesis.chain_id, genesis_hash)
    try:
        thresholds = Thresholds(plausible_daily_s=plausible_daily_hours * 3600,
                                min_failed_checks=min_failed_checks)
        report = build_report(genesis, store, thresholds)
    finally:
        store.close()
    files = write_report(report, out)
    counts = {name: len(items) for name, items in report["signals"].items()}
    summary = {"out": str(out), "files": [f.name for f in files], "blocks": report["blocks"],
               "txs": report["txs"], "signals": counts}
    click.echo(json.dumps(summary) if as_json else
               f"report over {report['blocks']} blocks / {report['txs']} txs written to {out} "
               f"({', '.join(summary['files'])}); signals: "
               + ", ".join(f"{k} {v}" for k, v in counts.items()))
