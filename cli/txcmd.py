"""``skillchain tx``: one command per contract action, plus bulk session upload.

The commands are generated from the body layouts in ``contracts.kinds`` (the
same records the contracts decode), so every action has a command and a new
action gets one without touching this file. Scalars become options; lists of
structures (sessions, trainees, amounts) are given as JSON, with byte fields
as hex.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from chain.errors import InputError
from chain.records import Bytes32, Record

__all__ = ["tx"]

DEFAULT_NODE = "http://127.0.0.1:26651"


class BodyError(InputError):
    code = "bad_body"


def from_json(annotation: Any, value: Any, where: str) -> Any:
    """Convert a JSON value into the wire value the record field expects."""
    origin = typing.get_origin(annotation)
    if annotation in (bytes, Bytes32):
        if not isinstance(value, str):
            raise BodyError(f"{where}: expected hex")
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise BodyError(f"{where}: not hex") from None
    if origin is tuple:
        inner = typing.get_args(annotation)[0]
        if not isinstance(value, list):
            raise BodyError(f"{where}: expected a JSON list")
        return [from_json(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(annotation, type) and issubclass(annotation, Record):
        hints = typing.get_type_hints(annotation)
        if isinstance(value, dict):
            missing = [f for f in annotation._fields if f not in value]
            if missing:
                raise BodyError(f"{where}: missing {', '.join(missing)}")
            value = [value[f] for f in annotation._fields]
        if not isinstance(value, list) or len(value) != len(annotation._fields):
            raise BodyError(f"{where}: expected {', '.join(annotation._fields)}")
        return [
            from_json(hints[f], v, f"{where}.{f}")
            for f, v in zip(annotation._fields, value, strict=True)
        ]
    return value


def _option_for(name: str, annotation: Any) -> click.Option:
    flag = "--" + name.replace("_", "-")
    if annotation is int:
        return click.Option([flag, name], type=int, required=True)
    if annotation is bool:
        return click.Option([flag + "/--no-" + flag[2:], name], required=True)
    if annotation is str:
        return click.Option([flag, name], type=str, required=True)
    if annotation in (bytes, Bytes32):
        return click.Option([flag, name], type=str, required=True, help="hex")
    return click.Option([flag, name], type=str, required=True, help="JSON (bytes as hex)")


async def send(
    node: str, key_path: Path, kind: str, body: list, wait: bool, expires_in: int
) -> dict:
    from chain.genesis import Genesis  # noqa: F401 - for type readers
    from node.client import Client, TxBuilder
    from node.keys import load_key

    signer = load_key(key_path)
    async with Client(node) as client:
        status = await client.status()
        builder = TxBuilder(signer, status["chain_id"], expires_in)
        tx = builder.build(kind, body, status["height"])
        return await client.submit(tx, wait=wait)


def _make_command(kind: str, cls: type[Record]) -> click.Command:
    hints = typing.get_type_hints(cls)

    def callback(
        key: Path, node: str, wait: bool, expires_in: int, as_json: bool, **fields: Any
    ) -> None:
        from cli.main import emit, friendly_errors

        @friendly_errors
        def run(as_json: bool) -> None:
            body = []
            for name in cls._fields:
                raw = fields[name]
                annotation = hints[name]
                if typing.get_origin(annotation) is tuple or (
                    isinstance(annotation, type) and issubclass(annotation, Record)
                ):
                    try:
                        raw = json.loads(raw)
                    except ValueError:
                        raise BodyError(f"--{name.replace('_', '-')} is not valid JSON") from None
                body.append(from_json(annotation, raw, name))
            answer = asyncio.run(send(node, key, kind, body, wait, expires_in))
            emit(answer, as_json, _describe)

        run(as_json=as_json)

    params = [_option_for(name, hints[name]) for name in cls._fields]
    params += _common_options()
    doc = f"Sign and submit a {kind} tx.\n\nBody fields, in wire order: {', '.join(cls._fields)}."
    return click.Command(
        kind.split(".", 1)[1].replace("_", "-"), params=params, callback=callback, help=doc
    )


def _common_options() -> list[click.Option]:
    return [
        click.Option(
            ["--key", "key"],
            type=click.Path(dir_okay=False, path_type=Path),
            required=True,
            help="Key file of the sending actor.",
        ),
        click.Option(
            ["--node", "node"], default=DEFAULT_NODE, show_default=True, help="Node RPC URL."
        ),
        click.Option(
            ["--wait/--no-wait", "wait"],
            default=True,
            show_default=True,
            help="Wait for the tx to be committed and print its receipt.",
        ),
        click.Option(
            ["--expires-in", "expires_in"],
            type=int,
            default=500,
            show_default=True,
            help="Heights until the tx expires.",
        ),
        click.Option(["--json", "as_json"], is_flag=True, help="Print one JSON object."),
    ]


def _describe(answer: dict) -> str:
    if answer.get("status") != "committed":
        return f"tx {answer['hash']} admitted (pending)"
    receipt = answer["receipt"]
    line = f"tx {answer['hash']} committed at height {answer['height']}: {receipt['status']}"
    if receipt["code"]:
        line += f" ({receipt['code']})"
    return line


@click.group()
def tx() -> None:
    """Sign and submit transactions (one command per contract action).

    \b
    Examples:
      skillchain tx registry suspend-actor --actor-id provider-x --reason "audit" --key admin.key
      skillchain tx upload-sessions --file sessions.jsonl --key platform.key
    """


def _install() -> None:
    from contracts.kinds import BODIES

    groups: dict[str, click.Group] = {}
    for kind in sorted(BODIES):
        contract = kind.split(".", 1)[0]
        if contract not in groups:
            groups[contract] = click.Group(contract, help=f"Actions of the {contract} contract.")
            tx.add_command(groups[contract])
        groups[contract].add_command(_make_command(kind, BODIES[kind]))


_install()


# -- bulk upload -------------------------------------------------------------------

SESSION_FIELDS = (
    "session_id",
    "trainee",
    "class_id",
    "unit",
    "mode",
    "start",
    "end",
    "active_seconds",
    "captures",
    "log_hash",
)


def read_sessions(path: Path) -> Iterator[list]:
    """Session rows from JSON Lines (one object per line) or CSV (a header row).

    In CSV, ``captures`` is ``time:image_hash_hex:1|0`` items separated by ``;``.
    """
    from contracts.kinds import SessionBody

    hints = typing.get_type_hints(SessionBody)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for n, row in enumerate(csv.DictReader(handle), start=2):
                yield _session_row(_csv_session(row, n), hints, f"{path.name}:{n}")
    else:
        with path.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except ValueError:
                        raise BodyError(f"{path.name}:{n}: not valid JSON") from None
                    yield _session_row(item, hints, f"{path.name}:{n}")


def _csv_session(row: dict[str, str], n: int) -> dict[str, Any]:
    try:
        item: dict[str, Any] = {f: row[f] for f in SESSION_FIELDS}
        for name in ("start", "end", "active_seconds"):
            item[name] = int(item[name])
        captures = []
        for part in filter(None, item["captures"].split(";")):
            when, image, passed = part.split(":")
            captures.append([int(when), image, passed.strip() in ("1", "true", "yes")])
        item["captures"] = captures
        return item
    except (KeyError, ValueError):
        raise BodyError(f"row {n}: needs columns {', '.join(SESSION_FIELDS)}") from None


def _session_row(item: Any, hints: dict[str, Any], where: str) -> list:
    from contracts.kinds import SessionBody

    if not isinstance(item, dict):
        raise BodyError(f"{where}: expected an object with {', '.join(SESSION_FIELDS)}")
    return from_json(SessionBody, item, where)


@tx.command("upload-sessions")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Sessions as JSON Lines (.jsonl) or CSV (.csv).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Sessions per transaction.",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The platform's key file.",
)
@click.option("--node", default=DEFAULT_NODE, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def upload_sessions(path: Path, batch: int, key: Path, node: str, as_json: bool) -> None:
    """Bulk-upload learning sessions, many per transaction, with a progress bar.

    Waits for every tx to commit and reports how many sessions were credited
    and why each other one was not (by error code).
    """
    from cli.main import emit, friendly_errors

    @friendly_errors
    def run(as_json: bool) -> None:
        rows = list(read_sessions(path))
        result = asyncio.run(_upload(rows, batch, key, node))
        emit(
            result,
            as_json,
            lambda d: (
                f"{d['sessions']} sessions in {d['txs']} txs: {d['credited']} credited, "
                f"{d['rejected']} rejected"
                + "".join(f"\n  {c}: {k}" for c, k in d["rejected_by_code"].items())
            ),
        )

    run(as_json=as_json)


async def _upload(rows: list[list], batch: int, key: Path, node: str) -> dict[str, Any]:
    """Submit every chunk at once (batched RPC), then follow each tx to its receipt."""
    from node.client import Client, TxBuilder
    from node.keys import load_key

    signer = load_key(key)
    by_code: dict[str, int] = {}
    credited = rejected = 0
    async with Client(node) as client:
        status = await client.status()
        builder = TxBuilder(signer, status["chain_id"])
        chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
        txs = [builder.build("learning.record_sessions", [c], status["height"]) for c in chunks]
        hashes: list[str] = []
        stderr = sys.stderr
        with click.progressbar(length=len(rows), label="uploading sessions", file=stderr) as bar:
            for i in range(0, len(txs), 50):
                answer = await client.submit_batch(txs[i : i + 50])
                for result in answer["results"]:
                    if "code" in result:
                        raise BodyError(
                            f"the node refused a tx: {result['code']}: {result['message']}"
                        )
                    hashes.append(result["hash"])
            for digest, chunk in zip(hashes, chunks, strict=True):
                for event in (await _receipt(client, digest))["events"]:
                    if event["kind"] == "learning.session_credited":
                        credited += 1
                    elif event["kind"] == "learning.session_rejected":
                        rejected += 1
                        by_code[event["data"][1]] = by_code.get(event["data"][1], 0) + 1
                bar.update(len(chunk))
    return {
        "sessions": len(rows),
        "txs": len(chunks),
        "credited": credited,
        "rejected": rejected,
        "rejected_by_code": by_code,
    }


async def _receipt(client: Any, digest: str, timeout_s: float = 120) -> dict[str, Any]:
    """Poll until the tx is committed; its receipt."""
    from node.client import ClientError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        try:
            answer = await client.tx(digest)
        except ClientError as exc:
            if exc.code != "not_found":
                raise
            answer = {}
        if answer.get("status") == "committed":
            return answer["receipt"]
        await asyncio.sleep(0.1)
    raise BodyError(f"tx {digest} was not committed within {timeout_s:.0f}s; check the node")
