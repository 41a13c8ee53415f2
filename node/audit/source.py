"""Where replay reads blocks from: a node's RPC or an exported directory.

Neither is trusted: whatever a source returns is checked by replay against
genesis. A source only has to say how high the chain goes and hand over
``(block, certificate)`` pairs by height; it fails with ``SourceError``.

Export layout (``node.audit.export`` writes it)::

    manifest.json                  format, chain id, head, files with sha256
    blocks-00000001-00001000.msgpack   a msgpack array of [block bytes, cert bytes]
    genesis.json                   optional copy, for convenience only
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import msgpack

from chain.errors import DecodeError
from chain.types import Block, CommitCertificate
from node.audit.errors import SourceError
from node.client import Client, ClientError

__all__ = ["DirSource", "EXPORT_FORMAT", "Fetched", "RemoteSource", "Source", "open_source"]

EXPORT_FORMAT = "skillchain-export/1"
FETCH_BATCH = 100
"""The RPC serves at most 100 blocks per request."""

class Fetched(NamedTuple):
    """One height as a source hands it over; ``raw`` is the block's bytes as received,
    so the signature workers get them without a costly re-encode."""

    block: Block
    cert: CommitCertificate | None
    raw: bytes


class Source(Protocol):
    """Blocks by height, from wherever."""

    def head(self) -> int: ...

    def fetch(self, start: int, end: int) -> list[Fetched]: ...

    def close(self) -> None: ...


class RemoteSource:
    """A node's ``/v1/blocks`` over HTTP, on a private event loop (callers are sync)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._loop = asyncio.new_event_loop()
        self._client = Client(url)
        self._run(self._client.__aenter__())

    def _run(self, coro: Any) -> Any:
        try:
            return self._loop.run_until_complete(coro)
        except ClientError as exc:
            raise SourceError(f"{self.url}: {exc.message}") from None

    def head(self) -> int:
        return int(self._run(self._client.status())["height"])

    def fetch(self, start: int, end: int) -> list[Fetched]:
        out: list[Fetched] = []
        first = start
        while first <= end:
            last = min(end, first + FETCH_BATCH - 1)
            answer = self._run(self._client._call(  # noqa: SLF001 - raw bytes wanted
                "GET", "/v1/blocks", raw=True, params={"from": first, "to": last}))
            rows = answer.get("blocks") if isinstance(answer, dict) else None
            # A node cuts an answer in bytes (``to`` says where): fewer rows, never none.
            if not isinstance(rows, list) or not rows or len(rows) > last - first + 1:
                raise SourceError(
                    f"{self.url} did not send blocks {first}..{last} "
                    f"(its head is {answer.get('head') if isinstance(answer, dict) else '?'})")
            out.extend(_decode_row(row, first + i, self.url) for i, row in enumerate(rows))
            first += len(rows)
        return out

    def close(self) -> None:
        self._run(self._client.__aexit__())
        self._loop.close()


class DirSource:
    """An exported directory; each file's sha256 is checked when it is read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = read_manifest(root)
        self._cached: tuple[str, list[list[bytes | None]]] | None = None

    def head(self) -> int:
        return int(self.manifest["head"])

    def fetch(self, start: int, end: int) -> list[Fetched]:
        pairs: list[Fetched] = []
        for entry in self.manifest["files"]:
            lo, hi = int(entry["from"]), int(entry["to"])
            if hi < start or lo > end:
                continue
            rows = self._load(entry)
            for height in range(max(lo, start), min(hi, end) + 1):
                pairs.append(_decode_row(rows[height - lo], height, entry["name"]))
        if len(pairs) != end - start + 1:
            raise SourceError(f"{self.root}: export lacks some of blocks {start}..{end}")
        return pairs

    def _load(self, entry: dict[str, Any]) -> list[list[bytes | None]]:
        name = entry["name"]
        if self._cached is not None and self._cached[0] == name:
            return self._cached[1]
        try:
            raw = (self.root / name).read_bytes()
        except OSError as exc:
            raise SourceError(f"{self.root}: cannot read {name}: {exc.strerror}") from None
        if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            raise SourceError(f"{self.root}: {name} does not match its sha256 in the manifest")
        try:
            rows = msgpack.unpackb(raw, raw=False)
        except (ValueError, msgpack.UnpackException) as exc:
            raise SourceError(f"{self.root}: {name} is not msgpack: {exc}") from None
        if not isinstance(rows, list) or len(rows) != int(entry["to"]) - int(entry["from"]) + 1:
            raise SourceError(f"{self.root}: {name} holds the wrong number of blocks")
        self._cached = (name, rows)
        return rows

    def close(self) -> None:
        self._cached = None


def _decode_row(row: Any, height: int, where: str) -> Fetched:
    """``[block bytes, certificate bytes | None]`` decoded strictly."""
    try:
        block_raw, cert_raw = row
        block = Block.decode(block_raw)
        cert = None if cert_raw is None else CommitCertificate.decode(cert_raw)
    except (DecodeError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, DecodeError) else str(exc)
        raise SourceError(f"{where}: block {height} cannot be decoded: {message}") from None
    return Fetched(block, cert, block_raw)


def read_manifest(root: Path) -> dict[str, Any]:
    """The export's manifest, shape-checked."""
    try:
        manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    except OSError as exc:
        raise SourceError(f"{root}: no readable manifest.json ({exc.strerror})") from None
    except ValueError as exc:
        raise SourceError(f"{root}/manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise SourceError(f"{root}/manifest.json is not a {EXPORT_FORMAT} manifest")
    return manifest


def open_source(where: str) -> Source:
    """A ``RemoteSource`` for http(s) URLs, else a ``DirSource``."""
    if where.startswith(("http://", "https://")):
        return RemoteSource(where)
    root = Path(where)
    if not root.is_dir():
        raise SourceError(f"{where} is neither an http(s) URL nor an export directory")
    return DirSource(root)
