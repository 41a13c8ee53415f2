"""Build a portable learning credential from a node's store (served by the RPC too).

The bundle is self-contained JSON (hex for bytes) that ``chain.credential``
verifies offline against genesis: the progress query result, every state
key it read with value and proof at the head block, that block's header and
commit certificate, and one link per validator-set change since genesis (a
certified header just before the change, with proofs of the values that fix
the next set). See ``chain.credential`` for what each part proves.
"""

from __future__ import annotations

from typing import Any

import contracts
from chain.codec import encode
from chain.credential import CREDENTIAL_FORMAT, HEIGHT_KEY, PENDING_KEY, VALSET_KEY
from chain.errors import InputError
from storage.store import Store

__all__ = ["CredentialRequestError", "build_credential", "validator_change_heights"]


class CredentialRequestError(InputError):
    """A credential cannot be built as asked (no block yet, bad parameters)."""

    code = "bad_credential_request"


_CHANGES: dict[str, tuple[int, list[int]]] = {}
"""Per store path: (scanned up to height, heights whose set differs from the one before)."""


def build_credential(
    store: Store, genesis_hash: bytes | None, class_id: str, trainee: bytes
) -> dict[str, Any]:
    """The credential of ``trainee`` in ``class_id`` as of the store's head block.

    ``genesis_hash`` is only a label for the reader (None leaves it out): what a
    verifier trusts is its own genesis, against which every signature is checked.
    """
    head = store.head
    if head is None or head.height == 0:
        raise CredentialRequestError("no block is committed yet; a credential needs one")
    if not class_id or len(class_id) > 64 or len(trainee) != 32:
        raise CredentialRequestError("class must be 1..64 characters and trainee 32 bytes")
    height = head.height
    result, keys = contracts.query_progress(contracts.Overlay(store.state), class_id, trainee)
    block, cert = store.block(height), store.certificate(height)
    assert block is not None and cert is not None
    chain_id = block.header.chain_id
    bundle: dict[str, Any] = {
        "format": CREDENTIAL_FORMAT,
        "chain_id": chain_id,
        "class_id": class_id,
        "trainee": trainee.hex(),
        "height": height,
        "result": result,
        "header": block.header.encode().hex(),
        "certificate": cert.encode().hex(),
        "entries": _entries(store, keys, height),
        "validator_changes": [
            _change_link(store, change - 1)
            for change in validator_change_heights(store, height)
            if change > 1
        ],
    }
    if genesis_hash is not None:
        bundle["genesis_hash"] = genesis_hash.hex()
    return bundle


def _entries(store: Store, keys: list[bytes], version: int) -> list[dict[str, Any]]:
    out = []
    for key in keys:
        value = store.tree.get(key, version)
        out.append({
            "key": key.hex(),
            "value": None if value is None else value.hex(),
            "proof": encode(store.tree.prove(key, version).to_wire()).hex(),
        })
    return out


def _change_link(store: Store, height: int) -> dict[str, Any]:
    """The certified header at ``height`` with proofs of what fixes the next set."""
    block, cert = store.block(height), store.certificate(height)
    assert block is not None and cert is not None
    return {
        "header": block.header.encode().hex(),
        "certificate": cert.encode().hex(),
        "entries": _entries(store, [VALSET_KEY, PENDING_KEY, HEIGHT_KEY], height),
    }


def validator_change_heights(store: Store, up_to: int) -> list[int]:
    """Heights <= ``up_to`` whose header names another validator set than the one before.

    Scanned once per store and extended incrementally (headers never change).
    """
    key = str(store.path)
    scanned, changes = _CHANGES.get(key, (0, []))
    previous = None
    if scanned:
        found = store.block(scanned)
        previous = found.header.validators_hash if found else None
    for height in range(scanned + 1, up_to + 1):
        block = store.block(height)
        if block is None:
            break
        current = block.header.validators_hash
        if previous is not None and current != previous:
            changes = [*changes, height]
        previous, scanned = current, height
    _CHANGES[key] = (scanned, changes)
    return [c for c in changes if c <= up_to]
