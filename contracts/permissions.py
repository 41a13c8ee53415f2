"""Who may send which kind: one table, enforced in one place.

``check_permission`` is what the mempool asks before admitting a tx and what
``execute_tx`` asks again at execution (a key may have been rotated or an actor
suspended in between). Finer rules — "only the bureau of the class's city",
"only the class's organizer", "only the actor itself" — are checked by the
action, since they depend on the body.
"""

from __future__ import annotations

from typing import Final

from chain.types import Tx
from contracts import errors as E
from contracts.kinds import BODIES
from contracts.model import Actor, KeyOwner, actor_key, key_owner_key
from contracts.registry import get_validator_list, get_validators_ahead
from contracts.state import Overlay, StateReader

__all__ = [
    "PERMISSIONS", "VALIDATOR_ONLY", "check_permission", "get_sender_actor",
    "get_validator_actor",
]

_ALL_ROLES = frozenset({"admin", "bureau", "provider", "organizer"})
VALIDATOR_ONLY: Final = frozenset({"validator"})
"""Kinds signed by a validator's consensus key (no actor holds it): the sender must be
in the set in force or scheduled to join it; the action sees a stand-in actor of role
``validator`` (``get_validator_actor``)."""

PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "registry.register_actor": frozenset({"admin"}),
    "registry.suspend_actor": frozenset({"admin"}),
    "registry.reinstate_actor": frozenset({"admin"}),
    "registry.rotate_key": _ALL_ROLES,
    "registry.publish_occupation": frozenset({"admin"}),
    "registry.update_occupation": frozenset({"admin"}),
    "registry.publish_policy": frozenset({"admin"}),
    "registry.set_fund": frozenset({"admin"}),
    "registry.set_params": frozenset({"admin"}),
    "registry.publish_rules": frozenset({"admin"}),
    "registry.set_calendar": frozenset({"admin"}),
    "registry.declare_succession": frozenset({"admin"}),
    "registry.propose_validator_change": frozenset({"admin", "bureau"}),
    "registry.approve_validator_change": frozenset({"bureau"}),
    "registry.propose_validator_add": frozenset({"admin", "bureau"}),
    "registry.rotate_validator_key": frozenset({"admin", "bureau"}),
    "registry.set_validator_address": VALIDATOR_ONLY,
    "enrolment.open_class": frozenset({"provider"}),
    "enrolment.enrol": frozenset({"provider"}),
    "enrolment.attest_category": frozenset({"bureau"}),
    "learning.record_sessions": frozenset({"provider"}),
    "learning.correct_session": frozenset({"provider"}),
    "learning.record_assessment": frozenset({"provider"}),
    "learning.record_offline_practice": frozenset({"bureau"}),
    "learning.record_exam": frozenset({"bureau"}),
    "learning.issue_certificate": frozenset({"bureau"}),
    "settlement.file_claim": frozenset({"organizer"}),
    "settlement.approve_claim": frozenset({"bureau"}),
    "settlement.reject_claim": frozenset({"bureau"}),
    "settlement.publicise_claim": frozenset({"bureau"}),
    "settlement.object_claim": frozenset({"bureau"}),
    "settlement.pay_claim": frozenset({"bureau"}),
    "settlement.revoke_claim": frozenset({"bureau"}),
}
if set(PERMISSIONS) != set(BODIES):  # pragma: no cover - import-time consistency check
    raise RuntimeError("PERMISSIONS and BODIES list different kinds")


def get_sender_actor(state: Overlay, sender: bytes) -> Actor | None:
    """The actor holding key ``sender`` (active or not), or None."""
    owner = state.get_record(key_owner_key(sender), KeyOwner)
    if owner is None:
        return None
    return state.get_record(actor_key(owner.actor_id), Actor)


def get_validator_actor(state: Overlay, sender: bytes) -> Actor | None:
    """A stand-in actor for a validator key of the set in force or scheduled, or None."""
    for v in (*get_validator_list(state), *get_validators_ahead(state)):
        if v.public_key == sender:
            return Actor("validator", "validator", v.name, v.region_code, True, (sender,), 0)
    return None


def check_permission(state: Overlay | StateReader, tx: Tx) -> str | None:
    """None when the sender may send ``tx.kind``; otherwise the error code.

    ``state`` may be an ``Overlay`` or any committed ``StateReader`` (the mempool's view).
    """
    if not isinstance(state, Overlay):
        state = Overlay(state)
    allowed = PERMISSIONS.get(tx.kind)
    if allowed is None:
        return E.UNKNOWN_KIND
    if allowed is VALIDATOR_ONLY:
        return None if get_validator_actor(state, tx.sender) else E.NOT_A_VALIDATOR
    actor = get_sender_actor(state, tx.sender)
    if actor is None:
        return E.UNKNOWN_SENDER
    if not actor.active:
        return E.ACTOR_SUSPENDED
    if actor.role not in allowed:
        return E.NOT_PERMITTED
    return None
