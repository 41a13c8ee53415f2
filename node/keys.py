"""Key files: one JSON file per key, readable only by its owner.

A key file names its suite, so a key made for ``ed25519-sha256`` is refused
by a chain running another suite with a message saying so, instead of
producing signatures nobody will accept::

    {"suite": "ed25519-sha256", "public_key": "<hex>", "secret": "<hex>"}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from chain.crypto import DEFAULT_SUITE, Signer, get_suite
from chain.errors import InputError, KeyFileError

__all__ = ["load_key", "new_key", "write_key"]


def new_key(path: str | Path, suite_name: str = DEFAULT_SUITE, overwrite: bool = False) -> Signer:
    """Create a fresh key at ``path`` (mode 0600); refuses to overwrite unless told."""
    signer = get_suite(suite_name).generate()
    write_key(path, signer, overwrite)
    return signer


def write_key(path: str | Path, signer: Signer, overwrite: bool = False) -> None:
    """Write ``signer`` to ``path`` with owner-only permissions, atomically."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "suite": signer.suite.name,
        "public_key": signer.public_key.hex(),
        "secret": signer.seed().hex(),
    }
    temp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def load_key(path: str | Path, expected_suite: str | None = None) -> Signer:
    """Read a key file; refuse a malformed file or a key of another suite."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
        suite_name, secret = document["suite"], bytes.fromhex(document["secret"])
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise KeyFileError(f"{path} is not a skillchain key file") from None
    if expected_suite is not None and suite_name != expected_suite:
        raise KeyFileError(
            f"{path} holds a {suite_name} key but this chain uses {expected_suite}; "
            f"create a key with: skillchain keys new --suite {expected_suite}"
        )
    try:
        signer = get_suite(suite_name).signer_from_seed(secret)
    except InputError as exc:
        raise KeyFileError(f"{path}: {exc.message}") from None
    if document.get("public_key") not in (None, signer.public_key.hex()):
        raise KeyFileError(f"{path}: public key does not match the secret")
    return signer
