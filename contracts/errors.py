"""Every error the contracts raise, and every stable rejection code.

The tree (a branch of ``chain.errors``)::

    SkillchainError
    ├── InputError
    │   └── ContractError     a tx (or one session of a batch) breaks a rule; the
    │                         sender is at fault. Carries a stable ``code`` from the
    │                         table below; becomes a REJECTED receipt, never a crash.
    └── InternalError         our bug (a record in state that cannot be decoded, an
                              invariant broken): the node must stop, not diverge.

Codes are part of the wire contract: receipts carry them, clients and
supervisors match on them, vectors pin them. Never rename one; add new ones.
"""

from __future__ import annotations

from typing import Final, NoReturn, TypeVar

from chain.errors import InputError

__all__ = [
    "ALL_CODES",
    "ContractError",
    "fail",
    "require",
    "require_found",
]

T = TypeVar("T")


class ContractError(InputError):
    """A rule of a contract is broken; ``code`` is one of ``ALL_CODES``."""

    code = "contract_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def require(condition: object, code: str, message: str) -> None:
    """Raise ``ContractError(code, message)`` unless ``condition`` holds (never ``assert``)."""
    if not condition:
        raise ContractError(code, message)


def require_found(value: T | None, code: str, message: str) -> T:
    """``value`` when it is not None; otherwise raise ``ContractError(code, message)``."""
    if value is None:
        raise ContractError(code, message)
    return value


def fail(code: str, message: str) -> NoReturn:
    """Raise ``ContractError`` unconditionally."""
    raise ContractError(code, message)


# -- envelope, replay, permission -------------------------------------------
UNKNOWN_KIND: Final = "unknown_kind"
BAD_BODY: Final = "bad_body"
PERSONAL_DATA: Final = "personal_data"
TX_EXPIRED: Final = "tx_expired"
EXPIRY_TOO_FAR: Final = "expiry_too_far"
TX_REPLAYED: Final = "tx_replayed"
UNKNOWN_SENDER: Final = "unknown_sender"
ACTOR_SUSPENDED: Final = "actor_suspended"
NOT_PERMITTED: Final = "not_permitted"
# -- registry ----------------------------------------------------------------
ACTOR_EXISTS: Final = "actor_exists"
UNKNOWN_ACTOR: Final = "unknown_actor"
BAD_ROLE: Final = "bad_role"
UNKNOWN_CITY: Final = "unknown_city"
KEY_IN_USE: Final = "key_in_use"
KEY_NOT_OWNED: Final = "key_not_owned"
ALREADY_SUSPENDED: Final = "already_suspended"
NOT_SUSPENDED: Final = "not_suspended"
OCCUPATION_EXISTS: Final = "occupation_exists"
UNKNOWN_OCCUPATION: Final = "unknown_occupation"
BAD_STANDARD: Final = "bad_standard"
NOT_NEWER: Final = "not_newer"
BUDGET_BELOW_COMMITTED: Final = "budget_below_committed"
UNKNOWN_FUND: Final = "unknown_fund"
# -- validator governance ----------------------------------------------------
VALIDATOR_EXISTS: Final = "validator_exists"
UNKNOWN_VALIDATOR: Final = "unknown_validator"
UNKNOWN_PROPOSAL: Final = "unknown_proposal"
PROPOSAL_CLOSED: Final = "proposal_closed"
ALREADY_APPROVED: Final = "already_approved"
VALIDATOR_SET_TOO_SMALL: Final = "validator_set_too_small"
NOT_A_VALIDATOR: Final = "not_a_validator"
BAD_POSSESSION: Final = "bad_possession"
CHANGE_PENDING: Final = "change_pending"
# -- enrolment -----------------------------------------------------------------
CLASS_EXISTS: Final = "class_exists"
UNKNOWN_CLASS: Final = "unknown_class"
NOT_CLASS_PROVIDER: Final = "not_class_provider"
NOT_ORGANIZER: Final = "not_organizer"
BAD_PERIOD: Final = "bad_period"
CLASS_ENDED: Final = "class_ended"
ALREADY_ENROLLED: Final = "already_enrolled"
# -- learning evidence ---------------------------------------------------------
NOT_ENROLLED: Final = "not_enrolled"
OUTSIDE_CLASS_PERIOD: Final = "outside_class_period"
SESSION_IN_FUTURE: Final = "session_in_future"
SESSION_TOO_LONG: Final = "session_too_long"
SESSION_TOO_SHORT: Final = "session_too_short"
SESSION_OVERLAP: Final = "session_overlap"
DAILY_CAP_EXCEEDED: Final = "daily_cap_exceeded"
NO_FACE_CHECK: Final = "no_face_check"
SIMULATION_NOT_ALLOWED: Final = "simulation_not_allowed"
SIMULATION_CAP_EXCEEDED: Final = "simulation_cap_exceeded"
DUPLICATE_SESSION: Final = "duplicate_session"
UNKNOWN_SESSION: Final = "unknown_session"
SESSION_ALREADY_CORRECTED: Final = "session_already_corrected"
CLAIM_IN_PROGRESS: Final = "claim_in_progress"
DUPLICATE_RECORD: Final = "duplicate_record"
NOT_CITY_BUREAU: Final = "not_city_bureau"
DUPLICATE_CERTIFICATE: Final = "duplicate_certificate"
BAD_CERTIFICATE_TYPE: Final = "bad_certificate_type"
# -- settlement ----------------------------------------------------------------
UNKNOWN_CERTIFICATE: Final = "unknown_certificate"
CERTIFICATE_MISMATCH: Final = "certificate_mismatch"
CERTIFICATE_BEFORE_ENROLMENT: Final = "certificate_before_enrolment"
CERTIFICATE_USED: Final = "certificate_used"
NOT_CLASS_ORGANIZER: Final = "not_class_organizer"
HOURS_INSUFFICIENT: Final = "hours_insufficient"
NOT_ELIGIBLE_GROUP: Final = "not_eligible_group"
ALREADY_SUBSIDISED: Final = "already_subsidised"
YEARLY_LIMIT_REACHED: Final = "yearly_limit_reached"
FUND_EXHAUSTED: Final = "fund_exhausted"
CLAIM_WINDOW_CLOSED: Final = "claim_window_closed"
NO_STANDARD: Final = "no_standard"
UNKNOWN_CLAIM: Final = "unknown_claim"
BAD_CLAIM_STATE: Final = "bad_claim_state"
PUBLICITY_NOT_OVER: Final = "publicity_not_over"
PUBLICITY_OVER: Final = "publicity_over"
BAD_RECOVERY_AMOUNT: Final = "bad_recovery_amount"
NO_POLICY: Final = "no_policy"
DATE_IN_FUTURE: Final = "date_in_future"
# -- rules version 2 -------------------------------------------------------------
BEFORE_ENROLMENT: Final = "before_enrolment"
UPLOAD_TOO_LATE: Final = "upload_too_late"
CLASS_BACKDATED: Final = "class_backdated"
EFFECTIVE_IN_PAST: Final = "effective_in_past"
OFFLINE_TOO_LONG: Final = "offline_too_long"
UNKNOWN_GROUP: Final = "unknown_group"

ALL_CODES: Final = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)
