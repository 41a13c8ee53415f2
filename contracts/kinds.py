"""Every tx kind and the exact layout of its body: the one place clients read.

A body is a canonical msgpack list; its fields come in the order below. Types:
``str`` UTF-8 text, ``int`` non-negative integer, ``bool``, ``b32`` exactly 32
bytes (hashes, trainee pseudonyms), ``key`` a public key (bytes), ``[...]`` a
list. ``id`` is a str of 1..64 characters without "/". Times are Unix seconds
(UTC), durations seconds, money fen. A body that does not fit is rejected with
code ``bad_body`` and a message naming the field. ``code`` is a str of 1..64
characters (32 for ``check_method``) from ``a-z 0-9 _ + -`` starting with a
letter: a reason or method code, never prose. ``host`` is an IP literal in its
compressed form or a lower-case DNS name (RFC 1123 labels, at most 253
characters; not the unspecified or a multicast address); ``port`` is 1..65535.

Personal data: every ``str`` anywhere in a body (names, reasons, units, ids,
codes) is scanned before the body is parsed, and a body holding anything shaped
like an ID number, a mobile number or a bank card number
(``chain.personal_data`` has the exact shapes) is refused with code
``personal_data`` and a message naming the field and the kind of number,
never the number. Because the scan is part of ``parse_body``, it refuses such a
tx at admission (``check_tx``) and rejects it at execution (a Byzantine
primary's block gets a rejection receipt, and the text reaches no state
record). A tx refused this way is refused whole, also a session batch.

registry.register_actor        [actor_id:id, role:str("provider"|"organizer"), name:str,
                                region_code:str, public_keys:[key]]
registry.suspend_actor         [actor_id:id, reason:str]   (free text: clients send prose)
registry.reinstate_actor       [actor_id:id]
registry.rotate_key            [old_key:key, new_key:key]
registry.publish_occupation    [code:str, edition:int, level:int, name:str, theory_seconds:int,
                                practical_seconds:int, simulation_allowed:bool,
                                certificate_types:[str], effective_from:int,
                                amounts:[[certificate_type:str, city:str("" = default),
                                amount_fen:int]]]
registry.update_occupation     same layout; replaces name, hours, simulation flag and types,
                                and adds a standard version from effective_from
registry.publish_policy        [effective_from, daily_cap_seconds, face_check_interval_seconds,
                                teaching_hour_seconds, simulation_cap_percent,
                                yearly_claim_limit, claim_window_seconds,
                                living_allowance_fen_per_day, living_allowance_cap_days,
                                shortfall_fen_per_day, shortfall_cap_percent,
                                publicity_seconds (all int), eligible_groups:[str]]
registry.set_fund              [region_code:str, source:str, budget_fen:int]
registry.set_params            [tx_window_heights, valset_delay_heights, max_session_seconds,
                                min_session_seconds, shortfall_day_seconds (all int > 0)]
registry.publish_rules         (rules v2) [effective_from, class_backdate_seconds,
                                upload_delay_seconds, min_study_day_seconds,
                                publicity_working_days (all int), groups:[code],
                                special_groups:[code]]
registry.set_calendar          (rules v2) [non_working_days:[int], working_days:[int]]
                                (CST day numbers: (unix + 8 h) // 86400)
registry.declare_succession    (rules v2) [code:str, edition:int, successor_code:str,
                                successor_edition:int, level:int]
registry.propose_validator_change  [op:str("add"|"remove"), public_key:key, name:str,
                                region_code:str]
registry.approve_validator_change  [proposal_id:b32]   (the proposing tx's hash; also
                                approves add_validator and rotate_validator_key proposals)
registry.propose_validator_add [public_key:key, name:str, region_code:str, host:host,
                                p2p_port:port]   (an add with the new validator's link
                                address; approved like propose_validator_change)
registry.rotate_validator_key  [old_key:key, new_key:key, possession:bytes]
                                (a proposal, approved like the others: at its effective
                                height new_key replaces old_key, same name, region and
                                address; possession is new_key's signature over
                                msgpack([old_key, new_key]) under the tag
                                skillchain/validator-key-possession/v1 and the chain id)
registry.set_validator_address [host:host, p2p_port:port]   (signed by a validator's
                                consensus key, of the set in force or scheduled to be)
enrolment.open_class           [class_id:id, organizer_id:id, occupation_code:str,
                                edition:int, level:int, city:str, start:int, end:int,
                                planned_seconds:int]
enrolment.enrol                [class_id:id, trainees:[[trainee:b32, check_hash:b32,
                                check_method:code]]]   (e.g. "face+id-card")
enrolment.attest_category      [trainee:b32, category:str, evidence_hash:b32,
                                valid_from:int, valid_until:int]
learning.record_sessions       [sessions:[[session_id:id, trainee:b32, class_id:id, unit:str,
                                mode:str, start:int, end:int, active_seconds:int,
                                captures:[[time:int, image_hash:b32, passed:bool]],
                                log_hash:b32]]]
                                mode: live | recorded | interactive | qa | online_test |
                                simulation
learning.correct_session       [session_id:id, reason_code:str, note_hash:b32]
learning.record_assessment     [assessment_id:id, trainee:b32, class_id:id, unit:str,
                                score:int, max_score:int, passed:bool, time:int,
                                evidence_hash:b32]
learning.record_offline_practice  [record_id:id, trainee:b32, class_id:id, start:int, end:int,
                                seconds:int, evidence_hash:b32]
learning.record_exam           [record_id:id, trainee:b32, class_id:id, part:str
                                ("theory"|"practical"), score:int, max_score:int,
                                passed:bool, time:int, evidence_hash:b32]
learning.issue_certificate     [number_hash:b32, trainee:b32, certificate_type:str,
                                occupation_code:str, edition:int, level:int, issue_date:int]
settlement.file_claim          [trainee:b32, class_id:id, certificate_hash:b32, source:str]
settlement.approve_claim       [claim_id:b32]      (the filing tx's hash)
settlement.reject_claim        [claim_id:b32, reason_code:code]
settlement.publicise_claim     [claim_id:b32]
settlement.object_claim        [claim_id:b32, objection_hash:b32]
settlement.pay_claim           [claim_id:b32, payment_ref_hash:b32]
settlement.revoke_claim        [claim_id:b32, reason_code:code, recover_fen:int]
"""

from __future__ import annotations

import re
from typing import Any

from chain.errors import DecodeError
from chain.genesis import CERTIFICATE_TYPES, FUND_SOURCES, ROLES, SPECIAL_GROUPS
from chain.records import Bytes32, Record, record
from contracts import errors as E
from contracts.kinds_v2 import V2_KINDS, DeclareSuccession, PublishRules, SetCalendar
from contracts.kinds_validators import ProposeValidatorAdd, RotateValidatorKey, SetValidatorAddress
from contracts.model import Params, PolicyVersion
from contracts.privacy import find_personal_data_in

__all__ = ["BODIES", "KINDS", "MODES", "THEORY_MODES", "V2_KINDS", "category_v1_message",
           "parse_body"]

MODES = ("live", "recorded", "interactive", "qa", "online_test", "simulation")
THEORY_MODES = frozenset(MODES[:-1])
CORRECTION_REASONS = (
    "duplicate_upload", "wrong_trainee", "wrong_class", "clock_error", "fraud_found", "other",
)
MAX_BATCH = 1000
MAX_CAPTURES = 256
MAX_TEXT = 200


def _text(value: str, where: str, limit: int = MAX_TEXT) -> None:
    if not 0 < len(value) <= limit:
        raise DecodeError(f"{where}: must have 1..{limit} characters")


_CODE = re.compile(r"[a-z][a-z0-9_+\-]*")


def _code(value: str, where: str, limit: int = 64) -> None:
    _text(value, where, limit)
    if not _CODE.fullmatch(value):
        raise DecodeError(f"{where}: a code of a-z, 0-9, '_', '+', '-' starting with a letter")


def _ident(value: str, where: str) -> None:
    _text(value, where, 64)
    if "/" in value:
        raise DecodeError(f"{where}: must not contain '/'")


def _one_of(value: str, allowed: tuple[str, ...] | frozenset[str], where: str) -> None:
    if value not in allowed:
        raise DecodeError(f"{where}: must be one of {', '.join(sorted(allowed))}")


def _key(value: bytes, where: str) -> None:
    if not 16 <= len(value) <= 128:
        raise DecodeError(f"{where}: not a public key")


def _span(start: int, end: int, where: str) -> None:
    if end <= start:
        raise DecodeError(f"{where}: end must be after start")


def _count(items: tuple[Any, ...], limit: int, where: str) -> None:
    if not 0 < len(items) <= limit:
        raise DecodeError(f"{where}: must list 1..{limit} items")


# -- registry ----------------------------------------------------------------------
@record
class RegisterActor(Record):
    actor_id: str
    role: str
    name: str
    region_code: str
    public_keys: tuple[bytes, ...]

    def _check(self) -> None:
        _ident(self.actor_id, "actor_id")
        _one_of(self.role, ROLES, "role")
        _text(self.name, "name")
        _text(self.region_code, "region_code", 6)
        _count(self.public_keys, 16, "public_keys")
        for key in self.public_keys:
            _key(key, "public_keys")


@record
class SuspendActor(Record):
    actor_id: str
    reason: str

    def _check(self) -> None:
        _ident(self.actor_id, "actor_id")
        _text(self.reason, "reason")


@record
class ReinstateActor(Record):
    actor_id: str

    def _check(self) -> None:
        _ident(self.actor_id, "actor_id")


@record
class RotateKey(Record):
    old_key: bytes
    new_key: bytes

    def _check(self) -> None:
        _key(self.old_key, "old_key")
        _key(self.new_key, "new_key")


@record
class AmountBody(Record):
    certificate_type: str
    city: str
    amount_fen: int

    def _check(self) -> None:
        _one_of(self.certificate_type, CERTIFICATE_TYPES, "amounts.certificate_type")
        if self.city and len(self.city) != 6:
            raise DecodeError("amounts.city: a 6-character code or empty")


@record
class PublishOccupation(Record):
    code: str
    edition: int
    level: int
    name: str
    theory_seconds: int
    practical_seconds: int
    simulation_allowed: bool
    certificate_types: tuple[str, ...]
    effective_from: int
    amounts: tuple[AmountBody, ...]

    def _check(self) -> None:
        _text(self.code, "code", 16)
        if "/" in self.code:
            raise DecodeError("code: must not contain '/'")
        _one_of(str(self.edition), ("2015", "2022"), "edition")
        if not 1 <= self.level <= 5:
            raise DecodeError("level: must be 1..5")
        _text(self.name, "name")
        _count(self.certificate_types, len(CERTIFICATE_TYPES), "certificate_types")
        for kind in self.certificate_types:
            _one_of(kind, CERTIFICATE_TYPES, "certificate_types")
        _count(self.amounts, 1000, "amounts")


@record
class SetFund(Record):
    region_code: str
    source: str
    budget_fen: int

    def _check(self) -> None:
        _text(self.region_code, "region_code", 6)
        _one_of(self.source, FUND_SOURCES, "source")


@record
class ProposeValidatorChange(Record):
    op: str
    public_key: bytes
    name: str
    region_code: str

    def _check(self) -> None:
        _one_of(self.op, ("add", "remove"), "op")
        _key(self.public_key, "public_key")
        _text(self.name, "name")
        _text(self.region_code, "region_code", 6)


@record
class ApproveValidatorChange(Record):
    proposal_id: Bytes32


# -- enrolment ----------------------------------------------------------------------
@record
class OpenClass(Record):
    class_id: str
    organizer_id: str
    occupation_code: str
    edition: int
    level: int
    city: str
    start: int
    end: int
    planned_seconds: int

    def _check(self) -> None:
        _ident(self.class_id, "class_id")
        _ident(self.organizer_id, "organizer_id")
        _text(self.occupation_code, "occupation_code", 16)
        _text(self.city, "city", 6)
        _span(self.start, self.end, "end")


@record
class Trainee(Record):
    trainee: Bytes32
    check_hash: Bytes32
    check_method: str

    def _check(self) -> None:
        _code(self.check_method, "trainees.check_method", 32)


@record
class Enrol(Record):
    class_id: str
    trainees: tuple[Trainee, ...]

    def _check(self) -> None:
        _ident(self.class_id, "class_id")
        _count(self.trainees, MAX_BATCH, "trainees")


@record
class AttestCategory(Record):
    trainee: Bytes32
    category: str
    evidence_hash: Bytes32
    valid_from: int
    valid_until: int

    def _check(self) -> None:
        # Rules v2 names its groups in state (``RulesVersion.groups``), so any code-shaped
        # name parses; under v1 the action refuses names outside SPECIAL_GROUPS with the
        # very message this check gave before (``category_v1_message``).
        bad_code = not _CODE.fullmatch(self.category) or len(self.category) > 64
        if self.category not in SPECIAL_GROUPS and (
                bad_code or self.valid_until <= self.valid_from):
            _one_of(self.category, SPECIAL_GROUPS, "category")
        _span(self.valid_from, self.valid_until, "valid_until")


def category_v1_message() -> str:
    """The bad_body message rules v1 gives for a category outside SPECIAL_GROUPS."""
    groups = ", ".join(sorted(SPECIAL_GROUPS))
    return f"enrolment.attest_category: category: must be one of {groups}"


# -- learning evidence ------------------------------------------------------------------
@record
class Capture(Record):
    time: int
    image_hash: Bytes32
    passed: bool


@record
class SessionBody(Record):
    session_id: str
    trainee: Bytes32
    class_id: str
    unit: str
    mode: str
    start: int
    end: int
    active_seconds: int
    captures: tuple[Capture, ...]
    log_hash: Bytes32

    def _check(self) -> None:
        try:
            _ident(self.session_id, "session_id")
            _ident(self.class_id, "class_id")
            _text(self.unit, "unit", 64)
            _one_of(self.mode, MODES, "mode")
            _span(self.start, self.end, "end")
            if self.active_seconds > self.end - self.start:
                raise DecodeError("active_seconds: longer than the session")
            if len(self.captures) > MAX_CAPTURES:
                raise DecodeError(f"captures: at most {MAX_CAPTURES}")
        except DecodeError as exc:
            raise DecodeError(f"session {self.session_id[:64]!r}: {exc.message}") from None


@record
class RecordSessions(Record):
    sessions: tuple[SessionBody, ...]

    def _check(self) -> None:
        _count(self.sessions, MAX_BATCH, "sessions")


@record
class CorrectSession(Record):
    session_id: str
    reason_code: str
    note_hash: Bytes32

    def _check(self) -> None:
        _ident(self.session_id, "session_id")
        _one_of(self.reason_code, CORRECTION_REASONS, "reason_code")


@record
class RecordAssessment(Record):
    assessment_id: str
    trainee: Bytes32
    class_id: str
    unit: str
    score: int
    max_score: int
    passed: bool
    time: int
    evidence_hash: Bytes32

    def _check(self) -> None:
        _ident(self.assessment_id, "assessment_id")
        _ident(self.class_id, "class_id")
        _text(self.unit, "unit", 64)
        if self.score > self.max_score:
            raise DecodeError("score: above max_score")


@record
class RecordOfflinePractice(Record):
    record_id: str
    trainee: Bytes32
    class_id: str
    start: int
    end: int
    seconds: int
    evidence_hash: Bytes32

    def _check(self) -> None:
        _ident(self.record_id, "record_id")
        _ident(self.class_id, "class_id")
        _span(self.start, self.end, "end")
        if self.seconds > self.end - self.start:
            raise DecodeError("seconds: longer than start..end")


@record
class RecordExam(Record):
    record_id: str
    trainee: Bytes32
    class_id: str
    part: str
    score: int
    max_score: int
    passed: bool
    time: int
    evidence_hash: Bytes32

    def _check(self) -> None:
        _ident(self.record_id, "record_id")
        _ident(self.class_id, "class_id")
        _one_of(self.part, ("theory", "practical"), "part")
        if self.score > self.max_score:
            raise DecodeError("score: above max_score")


@record
class IssueCertificate(Record):
    number_hash: Bytes32
    trainee: Bytes32
    certificate_type: str
    occupation_code: str
    edition: int
    level: int
    issue_date: int

    def _check(self) -> None:
        _one_of(self.certificate_type, CERTIFICATE_TYPES, "certificate_type")
        _text(self.occupation_code, "occupation_code", 16)


# -- settlement -------------------------------------------------------------------------
@record
class FileClaim(Record):
    trainee: Bytes32
    class_id: str
    certificate_hash: Bytes32
    source: str

    def _check(self) -> None:
        _ident(self.class_id, "class_id")
        _one_of(self.source, FUND_SOURCES, "source")


@record
class ClaimAction(Record):
    claim_id: Bytes32


@record
class RejectClaim(Record):
    claim_id: Bytes32
    reason_code: str

    def _check(self) -> None:
        _code(self.reason_code, "reason_code")


@record
class ObjectClaim(Record):
    claim_id: Bytes32
    objection_hash: Bytes32


@record
class PayClaim(Record):
    claim_id: Bytes32
    payment_ref_hash: Bytes32


@record
class RevokeClaim(Record):
    claim_id: Bytes32
    reason_code: str
    recover_fen: int

    def _check(self) -> None:
        _code(self.reason_code, "reason_code")


@record
class PublishPolicy(PolicyVersion):
    def _check(self) -> None:
        for group in self.eligible_groups:
            _one_of(group, (*SPECIAL_GROUPS, "general"), "eligible_groups")
        if self.simulation_cap_percent > 100 or self.shortfall_cap_percent > 100:
            raise DecodeError("a percent field is above 100")
        if self.daily_cap_seconds == 0 or self.face_check_interval_seconds == 0:
            raise DecodeError("daily_cap_seconds and face_check_interval_seconds must be > 0")


@record
class SetParams(Params):
    def _check(self) -> None:
        for name in self._fields:
            if getattr(self, name) == 0:
                raise DecodeError(f"{name}: must be > 0")


BODIES: dict[str, type[Record]] = {
    "registry.register_actor": RegisterActor,
    "registry.suspend_actor": SuspendActor,
    "registry.reinstate_actor": ReinstateActor,
    "registry.rotate_key": RotateKey,
    "registry.publish_occupation": PublishOccupation,
    "registry.update_occupation": PublishOccupation,
    "registry.publish_policy": PublishPolicy,
    "registry.set_fund": SetFund,
    "registry.set_params": SetParams,
    "registry.publish_rules": PublishRules,
    "registry.set_calendar": SetCalendar,
    "registry.declare_succession": DeclareSuccession,
    "registry.propose_validator_change": ProposeValidatorChange,
    "registry.approve_validator_change": ApproveValidatorChange,
    "registry.propose_validator_add": ProposeValidatorAdd,
    "registry.rotate_validator_key": RotateValidatorKey,
    "registry.set_validator_address": SetValidatorAddress,
    "enrolment.open_class": OpenClass,
    "enrolment.enrol": Enrol,
    "enrolment.attest_category": AttestCategory,
    "learning.record_sessions": RecordSessions,
    "learning.correct_session": CorrectSession,
    "learning.record_assessment": RecordAssessment,
    "learning.record_offline_practice": RecordOfflinePractice,
    "learning.record_exam": RecordExam,
    "learning.issue_certificate": IssueCertificate,
    "settlement.file_claim": FileClaim,
    "settlement.approve_claim": ClaimAction,
    "settlement.reject_claim": RejectClaim,
    "settlement.publicise_claim": ClaimAction,
    "settlement.object_claim": ObjectClaim,
    "settlement.pay_claim": PayClaim,
    "settlement.revoke_claim": RevokeClaim,
}
KINDS = tuple(sorted(BODIES))


def parse_body(kind: str, body: Any) -> Record:
    """The typed body of a tx of ``kind``; raises ``ContractError`` (unknown_kind,
    personal_data, bad_body)."""
    cls = E.require_found(BODIES.get(kind), E.UNKNOWN_KIND, f"no tx kind {kind!r}")
    found = find_personal_data_in(cls, body)
    if found is not None:
        E.fail(E.PERSONAL_DATA, f"{kind}: {found}")
    try:
        return cls.from_wire(body)
    except DecodeError as exc:
        E.fail(E.BAD_BODY, f"{kind}: {exc.message}")
