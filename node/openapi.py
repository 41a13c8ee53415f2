"""The OpenAPI 3.1 document served at ``/v1/openapi.json``.

Written by hand next to the routes (``node/rpc.py``) and pinned by a test
that every route appears here, so the document cannot drift silently.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OPENAPI"]

_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_JSON = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_HEALTH = {
    "description": "Alive",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"alive": {"const": True}, "version": {"type": "string"}},
            }
        }
    },
}
_CHECK = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
_READY = {
    "description": "Readiness and its checks",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["ready", "checks"],
                "properties": {
                    "ready": {"type": "boolean"},
                    "code": {"const": "not_ready"},
                    "message": {"type": "string"},
                    "checks": {
                        "type": "object",
                        "properties": {
                            "synced": {
                                **_CHECK,
                                "description": "height, known_tip, behind_blocks, "
                                "max_lag_blocks",
                            },
                            "quorum": {
                                **_CHECK,
                                "description": "validators_connected, quorum, validators",
                            },
                        },
                    },
                },
            }
        }
    },
}
_HASH = {
    "name": "hash",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}


def _op(
    summary: str,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": _JSON, "4XX": _ERROR, "5XX": _ERROR},
    }
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    op["responses"].update(extra or {})
    return op


_TX_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["tx"],
                "additionalProperties": False,
                "properties": {
                    "tx": {"type": "string", "description": "hex of the canonical msgpack tx"}
                },
            }
        },
        "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
    },
}
_BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["txs"],
                "additionalProperties": False,
                "properties": {
                    "txs": {"type": "array", "maxItems": 5000, "items": {"type": "string"}}
                },
            }
        },
        "application/msgpack": {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "msgpack array of tx bytes",
            }
        },
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "skillchain node RPC",
        "version": "1",
        "description": (
            "Submit signed transactions and read the Jiangxi vocational-training ledger. "
            "Answers are JSON unless `Accept: application/msgpack` is sent. Errors are "
            "`{code, message}`. Every write is a signed transaction. Limits (node/rpc.py): "
            "JSON bodies 8 MiB, msgpack bodies 32 MiB (a declared Content-Length over the "
            "limit is refused before the body is read: 413 `body_too_large`); requests and "
            "body bytes per client address and per /24 or /64 (429 `rate_limited`); txs per "
            "sender key (429 `rate_limited_sender`, per tx in a batch); bodies in flight "
            "(503 `server_busy`); heights are ASCII digits, hashes 64 hex digits, ids 1..64 "
            "characters without '/'."
        ),
    },
    "paths": {
        "/v1/txs": {
            "post": _op(
                "Submit one signed tx (add ?wait=commit to wait for its receipt)",
                [{"name": "wait", "in": "query", "schema": {"enum": ["commit"]}}],
                _TX_BODY,
                {"202": {"description": "Admitted, pending"}},
            )
        },
        "/v1/txs/batch": {
            "post": _op("Submit up to 5,000 signed txs; one result per tx", body=_BATCH_BODY)
        },
        "/v1/txs/{hash}": {"get": _op("Status and receipt of a tx", [_HASH])},
        "/v1/blocks/latest": {"get": _op("Latest block with its commit certificate")},
        "/v1/blocks/{height}": {
            "get": _op(
                "Block at a height, with certificate and receipts",
                [{"name": "height", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}],
            )
        },
        "/v1/blocks": {
            "get": _op(
                "Blocks from..to (at most 100, and no more than ~4 MiB of answer, always at "
                "least one); the answer's `to` is the last height it holds: page with "
                "from=to+1",
                [
                    {"name": "from", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "to", "in": "query", "schema": {"type": "integer"}},
                ],
            )
        },
        "/v1/validators": {"get": _op("Validator set in force for the next height")},
        "/v1/evidence": {
            "get": _op(
                "Equivocation seen by this node: two conflicting signed votes of one validator "
                '(kind "votes"), or two blocks signed by one primary for one height and view '
                '(kind "proposals"; each a ProposalSeen record); a page of entries with an '
                "id above `after`, oldest first; `next` is the cursor of the following page "
                "(null on the last); at most 16 entries per validator and 1,024 in total",
                [
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                ],
            )
        },
        "/v1/credential": {
            "get": _op(
                "Portable learning credential of a trainee in a class at the head block: "
                "progress, state proofs, certified header, validator-set changes "
                "(verify offline with `skillchain audit verify-credential`)",
                [
                    {"name": "class", "in": "query", "required": True,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 64,
                                "pattern": "^[^/]+$"}},
                    {"name": "trainee", "in": "query", "required": True,
                     "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                ],
            )
        },
        "/v1/status": {
            "get": _op(
                "Node status: height, view, peers, mempool, sync state; version and build, "
                "last_block_height, last_block_time (Unix s, the head's primary's clock) and "
                "last_block_time_utc, last_commit_age_s, ready, known_tip, catching_up"
            )
        },
        "/v1/query/{name}": {
            "get": _op(
                "Contract queries: progress, class, claim, provider_stats, city_stats; "
                "add proof=1 for state proofs. Id parameters (class, provider, city) are "
                "1..64 characters without '/', hashes 64 hex digits (else 400 `bad_query`)",
                [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "enum": [
                                "progress",
                                "class",
                                "claim",
                                "provider_stats",
                                "city_stats",
                                "credential",
                            ]
                        },
                    },
                    {"name": "proof", "in": "query", "schema": {"enum": ["0", "1"]}},
                ],
            )
        },
        "/v1/stream": {"get": _op("WebSocket stream of committed blocks and contract events")},
        "/v1/openapi.json": {"get": _op("This document")},
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (not here when metrics_port is set in "
                "config.json: then on metrics_host:metrics_port)",
                "responses": {"200": {"description": "text/plain"}},
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness: 200 whenever the process serves HTTP",
                "responses": {"200": _HEALTH},
            }
        },
        "/ready": {
            "get": {
                "summary": "Readiness: 200 when synced (head at most 2 blocks below the tip "
                "f+1 validators are known to have) and linked both ways to a quorum of "
                "validators (this node included); 503 otherwise, `code` `not_ready` and a "
                "`message` naming each failing check",
                "responses": {"200": _READY, "503": _READY},
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        }
    },
}
