"""Contract queries over the committed head, optionally with state proofs.

With ``proof=1`` the answer carries, for every state key the query read, the
raw value and its inclusion (or exclusion) proof against the state root of the
head block, plus that block's header and commit certificate: a bureau can check
the answer without trusting this node (``chain.state_proof`` verifies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import contracts
from chain.codec import encode
from chain.errors import InputError
from chain.types import header_hash
from node.render import certificate_json, header_json
from storage.store import Store

__all__ = ["QUERIES", "QueryError", "run_query"]


class QueryError(InputError):
    """A query that cannot be answered as asked (unknown name, missing parameter)."""

    code = "bad_query"


def _hex32(params: dict[str, str], name: str) -> bytes:
    text = params.get(name, "")
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise QueryError(f"parameter {name} must be 32 bytes of hex")
    return value


def _text(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value or len(value) > 64:
        raise QueryError(f"parameter {name} is required (at most 64 characters)")
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
