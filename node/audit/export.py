"""``audit export``: the chain as files an auditor can carry away and replay offline.

Blocks and certificates are written exactly as the node encodes them, in
ranges of ``PER_FILE`` heights, with a manifest listing each file's sha256.
The hashes only catch a damaged copy; trust still comes from replaying
against genesis, which the auditor brings (``--genesis`` copies it alongside
for convenience; replay still uses the one the auditor names).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from node.audit.errors import SourceError
from node.audit.source import EXPORT_FORMAT, Source

__all__ = ["PER_FILE", "export_chain"]

PER_FILE = 1_000


def export_chain(
    source: Source,
    out: Path,
    genesis_path: Path | None = None,
    on_progress: Callable[[int], None] = lambda _: None,
) -> dict[str, Any]:
    """Write every block of ``source`` under ``out``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "manifest.json").exists():
        raise SourceError(f"{out} already holds an export; choose an empty directory")
    head = source.head()
    files = []
    chain_id = ""
    for start in range(1, head + 1, PER_FILE):
        end = min(head, start + PER_FILE - 1)
        pairs = source.fetch(start, end)
        chain_id = pairs[0][0].header.chain_id
        rows = [[raw, None if cert is None else cert.encode()] for _, cert, raw in pairs]
        raw = msgpack.packb(rows, use_bin_type=True)
        name = f"blocks-{start:08d}-{end:08d}.msgpack"
        (out / name).write_bytes(raw)
        files.append(
            {"name": name, "from": start, "to": end, "sha256": hashlib.sha256(raw).hexdigest()}
        )
        on_progress(len(pairs))
    manifest = {"format": EXPORT_FORMAT, "chain_id": chain_id, "head": head, "files": files}
    if genesis_path is not None:
        shutil.copyfile(genesis_path, out / "genesis.json")
        manifest["genesis_sha256"] = hashlib.sha256(genesis_path.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")
    return manifest
