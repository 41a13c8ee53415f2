"""Contract queries over the committed head, optionally with state proofs.

With ``proof=1`` the answer carries, for every state key the query read, the
raw value and its inclusion (or exclusion) proof against the state root of the
head block, plus that block's header and commit certificate: a bureau can check
the answer without trusting this node (``chain.state_proof`` verifies).

Parameters are checked before any state is read: ids against the contracts'
grammar (``is_id``), hashes as exactly 64 hex digits; a bad one is a
``bad_query`` (400) that names the parameter, never a read of another record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import contracts
from chain.codec import encode
from chain.errors import InputError
from chain.types import header_hash
from node.render import certificate_json, header_json
from storage.store import Store

__all__ = ["MAX_ID_CHARS", "QUERIES", "QueryError", "is_id", "run_query"]


class QueryError(InputError):
    """A query that cannot be answered as asked (unknown name, missing parameter)."""

    code = "bad_query"


MAX_ID_CHARS = 64
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")


def is_id(value: str) -> bool:
    """Whether ``value`` is an id as the contracts define it (``contracts.kinds``:
    1..64 characters, no ``/``) and encodable as UTF-8.

    State keys join ids with ``/`` (``contracts.model``), so an id with ``/``
    would name another record (``class/<id>/trainees``); every id a contract
    accepts passes, and nothing else does.
    """
    if not 0 < len(value) <= MAX_ID_CHARS or "/" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no contract could have stored it
        return False
    return True


def _hex32(params: dict[str, str], name: str) -> bytes:
    text = params.get(name, "")
    if not _HEX32.fullmatch(text):
        raise QueryError(f"parameter {name} must be 32 bytes as 64 hex digits")
    return bytes.fromhex(text)


def _text(params: dict[str, str], name: str) -> str:
    """An id parameter (``is_id``); a city code is one too."""
    value = params.get(name, "")
    if not is_id(value):
        raise QueryError(f"parameter {name} must be an id: 1..64 characters, no '/'")
    return value


QUERIES: dict[str, Callable[[contracts.Overlay, dict[str, str]], contracts.queries.QueryResult]] = {
    "progress": lambda s, p: contracts.query_progress(s, _text(p, "class"), _hex32(p, "trainee")),
    "class": lambda s, p: contracts.query_class(s, _text(p, "class")),
    "claim": lambda s, p: contracts.query_claim(s, _hex32(p, "claim")),
    "provider_stats": lambda s, p: contracts.query_provider_stats(s, _text(p, "provider")),
    "city_stats": lambda s, p: contracts.query_city_stats(s, _text(p, "city")),
}


def run_query(store: Store, name: str, params: dict[str, str]) -> dict[str, Any]:
    """Answer query ``name`` at the head; see the module docstring for ``proof=1``."""
    query = QUERIES.get(name)
    if query is None:
        raise QueryError(f"unknown query {name!r}; known: {', '.join(sorted(QUERIES))}")
    result, keys = query(contracts.Overlay(store.state), params)
    answer: dict[str, Any] = {"height": store.head.height, "result": result}
    if params.get("proof") in ("1", "true"):
        answer["proof"] = prove_keys(store, keys)
    return answer


def prove_keys(store: Store, keys: list[bytes]) -> dict[str, Any]:
    """Values and state proofs of ``keys`` at the head, with the certified header."""
    head = store.head
    bundle: dict[str, Any] = {"height": head.height, "state_root": head.state_root.hex()}
    if head.height > 0:
        block = store.block(head.height)
        cert = store.certificate(head.height)
        assert block is not None and cert is not None
        bundle["header"] = header_json(
            store.suite, block.header, header_hash(store.suite, block.header)
        )
        bundle["header_raw"] = block.header.encode().hex()
        bundle["certificate"] = certificate_json(cert)
    entries = []
    for key in keys:
        value = store.tree.get(key, head.height)
        proof = store.tree.prove(key, head.height)
        entries.append(
            {
                "key": key.hex(),
                "value": None if value is None else value.hex(),
                "proof": encode(proof.to_wire()).hex(),
            }
        )
    bundle["entries"] = entries
    return bundle
