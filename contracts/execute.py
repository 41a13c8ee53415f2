"""The contracts' one entry from outside: execute a tx, execute a block.

``execute_tx`` runs, in order: the replay window (``tx_expired``,
``expiry_too_far``: a block at height h takes a tx when
``h <= expires <= h + tx_window_heights``, the window read from the live
``Params`` that ``registry.set_params`` changes), replay (``tx_replayed``), the
permission table, the body schema (with the personal-data scan), then the
action in a child overlay. An accepted tx's writes are merged;
a rejected one leaves nothing but its ``txseen`` marker (so a rejected tx can
never be replayed into acceptance later) and a receipt whose code is stable
and whose one ``error`` event carries the message. A tx refused by the replay
checks writes nothing at all. Bugs (``InternalError`` or anything unexpected)
propagate: a node must stop rather than diverge.

Parsing a body once per node: ``execute_block`` may be given ``parsed``, a
lookup from tx hash to the body its caller parsed at admission (the node keeps
it with the mempool entry). ``parse_body`` is a pure function of (kind, body)
and the tx hash covers both, so a body found there is the body ``parse_body``
would return, and the receipts and state are the same with or without it; a
found object that is not of the kind's body type is ignored and the body
parsed again. Only successful parses are ever handed in: a body that failed to
parse is parsed (and refused) here again, with the same code and message.

Admission: ``check_tx`` is the one admission rule. It runs the same window,
replay, permission and schema checks as ``execute_tx`` (the same functions) for
the next block's height, so a tx admitted while the head is h is not refused
for expiry when executed at h+1; it is refused later only once the chain has
moved past its ``expires`` (or when a ``set_params`` in between shrank the
window). ``params`` may be passed in, read once per height with
``registry.get_params``: a node admits thousands of txs per height and the
parameters change only at a commit. ``check_expiry`` is the window alone, with
no state read, for a caller that wants the cheapest refusal first;
``expiry_bounds`` the same window as two integers (a pool re-checking all its
txs at each height compares integers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chain.records import Record
from chain.types import Event, Receipt, ReceiptStatus, Tx
from contracts import enrolment, learning, registry, settlement
from contracts import errors as E
from contracts.context import BlockContext, Call
from contracts.errors import ContractError, fail, require, require_found
from contracts.kinds import BODIES, V2_KINDS, parse_body
from contracts.model import Expiry, Params, txseen_key
from contracts.permissions import (
    PERMISSIONS,
    VALIDATOR_ONLY,
    check_permission,
    get_sender_actor,
    get_validator_actor,
)
from contracts.state import Overlay, StateReader

__all__ = [
    "HANDLERS",
    "TxCheck",
    "check_expiry",
    "check_tx",
    "execute_block",
    "execute_tx",
    "expiry_bounds",
]

Handler = Callable[[Overlay, Call, Any], list[Event]]
ParsedBodies = Callable[[bytes], object | None]
"""tx hash -> the body parsed at admission, or None (see the module docstring)."""

HANDLERS: dict[str, Handler] = {
    "registry.register_actor": registry.process_register_actor,
    "registry.suspend_actor": registry.process_suspend_actor,
    "registry.reinstate_actor": registry.process_reinstate_actor,
    "registry.rotate_key": registry.process_rotate_key,
    "registry.publish_occupation": registry.process_publish_occupation,
    "registry.update_occupation": registry.process_update_occupation,
    "registry.publish_policy": registry.process_publish_policy,
    "registry.set_fund": registry.process_set_fund,
    "registry.set_params": registry.process_set_params,
    "registry.publish_rules": registry.process_publish_rules,
    "registry.set_calendar": registry.process_set_calendar,
    "registry.declare_succession": registry.process_declare_succession,
    "registry.propose_validator_change": registry.process_propose_validator_change,
    "registry.approve_validator_change": registry.process_approve_validator_change,
    "registry.propose_validator_add": registry.process_propose_validator_add,
    "registry.rotate_validator_key": registry.process_rotate_validator_key,
    "registry.set_validator_address": registry.process_set_validator_address,
    "enrolment.open_class": enrolment.process_open_class,
    "enrolment.enrol": enrolment.process_enrol,
    "enrolment.attest_category": enrolment.process_attest_category,
    "learning.record_sessions": learning.process_record_sessions,
    "learning.correct_session": learning.process_correct_session,
    "learning.record_assessment": learning.process_record_assessment,
    "learning.record_offline_practice": learning.process_record_offline_practice,
    "learning.record_exam": learning.process_record_exam,
    "learning.issue_certificate": learning.process_issue_certificate,
    "settlement.file_claim": settlement.process_file_claim,
    "settlement.approve_claim": settlement.process_approve_claim,
    "settlement.reject_claim": settlement.process_reject_claim,
    "settlement.publicise_claim": settlement.process_publicise_claim,
    "settlement.object_claim": settlement.process_object_claim,
    "settlement.pay_claim": settlement.process_pay_claim,
    "settlement.revoke_claim": settlement.process_revoke_claim,
}


def rejected(code: str, message: str) -> Receipt:
    return Receipt(int(ReceiptStatus.REJECTED), code, (Event("error", [code, message]),))


@dataclass(frozen=True, slots=True)
class TxCheck:
    """``check_tx``'s answer: ``code`` is "" when the tx is admissible, and ``body`` is
    then its parsed body (for the executor, so each body is parsed once per node)."""

    code: str = ""
    message: str = ""
    body: Record | None = None

    @property
    def ok(self) -> bool:
        return self.code == ""


def expiry_bounds(height: int, params: Params) -> tuple[int, int]:
    """(low, high): a block at ``height`` takes a tx when ``low <= expires <= high``."""
    return height, height + params.tx_window_heights


def require_window(expires: int, height: int, params: Params) -> None:
    """The replay window of a block at ``height`` (``expiry_bounds``)."""
    low, high = expiry_bounds(height, params)
    require(expires >= low, E.TX_EXPIRED, f"tx expired at height {expires}; block is {height}")
    require(expires <= high, E.EXPIRY_TOO_FAR, f"expires more than "
            f"{params.tx_window_heights} heights after block {height} (at most {high})")


def require_unseen(state: Overlay, tx_hash: bytes) -> None:
    """The seen-once rule: no tx is included twice (accepted or rejected)."""
    require(state.get_record(txseen_key(tx_hash), Expiry) is None, E.TX_REPLAYED,
            "this tx was included before")


def require_fresh(state: Overlay, ctx: BlockContext, tx: Tx, tx_hash: bytes) -> None:
    """The replay window (live parameters) and the seen-once rule."""
    require_window(tx.expires, ctx.height, registry.get_params(state))
    require_unseen(state, tx_hash)


def require_kind_in_rules(state: Overlay, tx: Tx) -> None:
    """A kind added by rules version 2 is unknown on a v1 chain, exactly as before it existed."""
    if tx.kind in V2_KINDS and registry.get_rules(state) is None:
        fail(E.UNKNOWN_KIND, f"sender may not send {tx.kind}")


def get_body(tx: Tx, parsed: object | None) -> Record:
    """``parsed`` when it is a body of ``tx.kind``'s type, else ``parse_body`` of the tx."""
    cls = BODIES.get(tx.kind)
    if cls is not None and isinstance(parsed, cls):
        return parsed
    return parse_body(tx.kind, tx.body)


def process_tx(
    state: Overlay, ctx: BlockContext, tx: Tx, tx_hash: bytes, parsed: object | None = None
) -> list[Event]:
    """Permission, body schema, action: raises ``ContractError`` on any broken rule."""
    require_kind_in_rules(state, tx)
    problem = check_permission(state, tx)
    require(problem is None, problem or "", f"sender may not send {tx.kind}")
    body = get_body(tx, parsed)
    if PERMISSIONS[tx.kind] is VALIDATOR_ONLY:
        actor = get_validator_actor(state, tx.sender)
    else:
        actor = get_sender_actor(state, tx.sender)
    actor = require_found(actor, E.UNKNOWN_SENDER, "no such key")
    call = Call(ctx, actor, tx.sender, tx_hash)
    return HANDLERS[tx.kind](state, call, body)


def execute_tx(
    state: Overlay, ctx: BlockContext, tx: Tx, tx_hash: bytes, parsed: object | None = None
) -> Receipt:
    """Apply one tx to ``state``; a rejection leaves only the tx's replay marker.

    ``parsed``: the tx's body as parsed at admission, if known (saves parsing it again).
    """
    try:
        require_fresh(state, ctx, tx, tx_hash)
    except ContractError as exc:
        return rejected(exc.code, exc.message)
    state.put(txseen_key(tx_hash), Expiry(tx.expires))
    child = state.child()
    try:
        events = process_tx(child, ctx, tx, tx_hash, parsed)
    except ContractError as exc:
        return rejected(exc.code, exc.message)
    child.merge_into_parent()
    return Receipt(int(ReceiptStatus.ACCEPTED), "", tuple(events))


def check_expiry(expires: int, next_height: int, params: Params) -> TxCheck:
    """The replay window alone for the block at ``next_height`` (no state read)."""
    try:
        require_window(expires, next_height, params)
    except ContractError as exc:
        return TxCheck(exc.code, exc.message)
    return TxCheck()


def check_tx(
    state: Overlay | StateReader,
    tx: Tx,
    tx_hash: bytes,
    next_height: int,
    params: Params | None = None,
) -> TxCheck:
    """The admission rule for ``tx`` in the block at ``next_height``: the replay window,
    seen-once, permission and body schema, exactly as ``execute_tx`` checks them (not
    the action's rules, which depend on the txs ordered before it). ``params``: the
    live parameters of ``state`` if the caller read them already."""
    view = state if isinstance(state, Overlay) else Overlay(state)
    try:
        require_window(tx.expires, next_height, params or registry.get_params(view))
        require_unseen(view, tx_hash)
        require_kind_in_rules(view, tx)
        problem = check_permission(view, tx)
        require(problem is None, problem or "", f"sender may not send {tx.kind}")
        body = parse_body(tx.kind, tx.body)
    except ContractError as exc:
        return TxCheck(exc.code, exc.message)
    return TxCheck(body=body)


def execute_block(
    state: Overlay,
    ctx: BlockContext,
    txs: list[tuple[Tx, bytes]],
    parsed: ParsedBodies | None = None,
) -> list[Receipt]:
    """Apply a block's txs in order, then the end-of-block step (validator changes).

    ``parsed`` looks up bodies parsed at admission by tx hash; the result is the same
    with or without it (see the module docstring).
    """
    lookup = parsed or _no_body
    receipts = [execute_tx(state, ctx, tx, h, lookup(h)) for tx, h in txs]
    registry.on_end_block(state, ctx)
    return receipts


def _no_body(tx_hash: bytes) -> None:
    return None
