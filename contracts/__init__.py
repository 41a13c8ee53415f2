"""Built-in contracts: registry, enrolment, learning evidence, subsidy settlement.

Pure deterministic functions over a state view: no clock (time is the block's),
no randomness, no floats, no I/O. Imports ``chain`` only.

The interface the node uses:

``Overlay(base)``
    A write overlay over any ``StateReader`` (``get(key) -> bytes | None``):
    ``get/set/delete`` (bytes), ``get_record/put`` (records), ``child()``,
    ``merge_into_parent()``, ``changes() -> dict[bytes, bytes | None]`` sorted by
    key (None = delete). ``DictState`` is an in-memory reader.
``init_genesis(state, genesis)``
    Writes cities, actors and keys, occupations, policy, funds, the validator
    set and the chain parameters (``DEFAULT_PARAMS``) into ``state``.
``BlockContext(height, time, proposer)``
    The block being executed; its ``time`` is the contracts' only "now".
``execute_tx(state, ctx, tx, tx_hash) -> Receipt``
    Replay window and seen-once check, permission, body schema, action. A
    rejected tx yields ``Receipt(REJECTED, code, (Event("error", [code, msg]),))``
    and leaves only its ``txseen`` marker; ``learning.record_sessions`` is
    accepted with one ``learning.session_credited`` or
    ``learning.session_rejected`` event per session.
``execute_block(state, ctx, [(tx, tx_hash), ...], parsed=None) -> [Receipt]``
    All txs in order, then the end-of-block step (validator changes fall due).
    ``parsed(tx_hash)`` may return the body ``parse_body`` gave at admission (or
    None), so a node parses each body once; the outcome is the same without it.
``check_tx(state, tx, tx_hash, next_height, params=None) -> TxCheck``
    The one admission rule: replay window, seen-once, permission and body
    schema (with the personal-data scan), by the same functions and bounds
    ``execute_tx`` uses for a block at ``next_height`` (not the action's rules).
    ``TxCheck(code, message, body)``: ``code`` "" admits and ``body`` is the
    parsed body. ``state`` may be any ``StateReader``; ``params`` are its live
    ``Params`` (``get_params``), read once per height by a caller that admits
    many txs. ``check_expiry(expires, next_height, params)`` is the window alone,
    ``expiry_bounds(next_height, params) -> (low, high)`` the same as integers.
``get_params(state) -> Params``
    The live chain parameters (``registry.set_params`` changes them);
    ``state`` is an ``Overlay``.
``check_permission(state, tx) -> str | None``
    The permission table (``PERMISSIONS``) check, shared with the mempool;
    ``state`` is an ``Overlay`` (wrap a committed reader as ``Overlay(reader)``).
``validator_set_at(state) -> ValidatorSet``
    The set in force for the height after the last executed block.
``parse_body(kind, body)``
    The strict body schema; layouts are documented in ``contracts.kinds``.
queries (``contracts.queries``)
    ``query_progress``, ``query_class``, ``query_claim``,
    ``query_provider_stats``, ``query_city_stats``: each returns
    ``(json_dict, keys_read)`` so the node can attach proofs.

Error codes are constants in ``contracts.errors`` (``ALL_CODES``).
"""

from contracts.context import BlockContext
from contracts.errors import ALL_CODES, ContractError, require
from contracts.execute import (
    TxCheck,
    check_expiry,
    check_tx,
    execute_block,
    execute_tx,
    expiry_bounds,
)
from contracts.genesis_init import DEFAULT_PARAMS, init_genesis
from contracts.kinds import BODIES, KINDS, parse_body
from contracts.permissions import PERMISSIONS, check_permission
from contracts.queries import (
    query_city_stats,
    query_claim,
    query_class,
    query_progress,
    query_provider_stats,
)
from contracts.registry import (
    TAG_KEY_POSSESSION,
    get_params,
    get_validator_address,
    get_validators_ahead,
    validator_set_at,
)
from contracts.state import DictState, Overlay, StateReader

__all__ = [
    "ALL_CODES",
    "BODIES",
    "DEFAULT_PARAMS",
    "KINDS",
    "PERMISSIONS",
    "BlockContext",
    "ContractError",
    "DictState",
    "Overlay",
    "StateReader",
    "TAG_KEY_POSSESSION",
    "TxCheck",
    "check_expiry",
    "check_permission",
    "check_tx",
    "execute_block",
    "execute_tx",
    "expiry_bounds",
    "get_params",
    "get_validator_address",
    "get_validators_ahead",
    "init_genesis",
    "parse_body",
    "query_city_stats",
    "query_claim",
    "query_class",
    "query_progress",
    "query_provider_stats",
    "require",
    "validator_set_at",
]
