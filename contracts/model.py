"""What the contracts keep in state: the records and the keys they live under.

Keys are readable bytes, one namespace per record type; ids inside keys are
hex (keys, trainee pseudonyms, hashes) or the actor's/class's own id string.
There are no prefix scans, so every list a rule or a query needs is a record.

    actor/<id>                       Actor
    key/<pubkey hex>                 KeyOwner          which actor holds a key
    city/<code>                      City
    occ/<code>/<edition>/<level>     Occupation        with its standards' history
    policy                           PolicyHistory     versions by effective date
    params                           Params            chain parameters beyond policy
    fund/<city>/<source>             Fund
    valset                           ValidatorList     the set in force next height
    valset/pending                   PendingChanges    approved, not yet in force
    valaddr/<pubkey hex>             ValidatorAddress  a validator's link address (host, port)
    gov/<proposal hex>               Proposal
    gov/<proposal hex>/rotate        Rotation          the key a rotation proposal replaces
    meta/height                      Height            last executed height
    txseen/<tx hash hex>             Expiry            replay protection
    class/<class id>                 Class
    class/<class id>/trainees        TraineeList
    enrol/<class id>/<trainee hex>   Enrolment         progress counters
    enrol/<class id>/<trainee>/log   EvidenceList      assessments, exams, voided sessions
    cat/<trainee hex>                Categories        attested special groups
    day/<trainee hex>/<day>          DayLog            credited intervals of one day (UTC+8):
                                                       the overlap index and, with the
                                                       enrolment's study days, the list of
                                                       sessions and offline records of a class
    sess/<provider>/<session id>     Session
    assess/<provider>/<id>           Assessment
    offline/<bureau>/<id>            OfflinePractice
    exam/<bureau>/<id>               ExamResult
    cert/<number hash hex>           Certificate
    certs/<trainee>/<code>/<edition>/<level>     EvidenceList   the trainee's certificates
    claim/<claim id hex>             Claim
    paidfor/<trainee>/<code>/<edition>/<level>   ClaimRef    once per person+occupation+level
    yearly/<trainee hex>/<year>      Counter           claims counted in a year
    stats/provider/<id>              ProviderStats
    stats/class/<class id>           ClassStats
    stats/city/<code>                CityStats


Rules-version-2 records live in ``contracts.model_v2``.
"""

from __future__ import annotations

import datetime
from typing import NewType

from chain.records import Bytes32, Record, record
from chain.validators import Validator
from contracts.state import memoize_decoding

__all__ = [
    "Actor", "Amount", "Assessment", "Attestation", "Categories", "Certificate", "City",
    "CityStats", "Claim", "ClaimRef", "ClaimStep", "Class", "ClassStats", "Counter",
    "DAY_OFFSET_S", "DayLog", "EMPTY_CITY_STATS", "EMPTY_CLASS_STATS", "EMPTY_PROVIDER_STATS",
    "Enrolment", "EvidenceList", "ExamResult", "Expiry", "Fen", "Fund", "HEIGHT_KEY", "Height",
    "Interval", "KeyOwner", "Occupation", "OfflinePractice", "PARAMS_KEY", "PENDING_KEY",
    "POLICY_KEY", "Params", "PendingChanges", "PolicyHistory", "PolicyVersion", "Proposal",
    "ProviderStats", "Rotation", "ScheduledChange", "Seconds", "Session", "StandardVersion",
    "TraineeId", "TraineeList", "VALSET_KEY", "ValidatorAddress", "ValidatorList", "actor_key",
    "assessment_key", "categories_key", "certificate_key", "city_key", "city_stats_key",
    "claim_key", "class_key", "class_stats_key", "class_trainees_key", "day_key", "day_of",
    "enrolment_key", "evidence_key", "exam_key", "fund_key", "key_owner_key", "occupation_key",
    "offline_key", "paidfor_key", "proposal_key", "provider_stats_key", "rotation_key",
    "session_key", "trainee_certificates_key", "txseen_key", "validator_address_key", "year_of",
    "yearly_key",
]

Seconds = NewType("Seconds", int)
Fen = NewType("Fen", int)
TraineeId = NewType("TraineeId", bytes)
"""32-byte HMAC pseudonym of a national ID number."""

DAY_OFFSET_S = 8 * 3600
"""Days are counted in China Standard Time (UTC+8): a calendar fact, not a policy."""


def day_of(time_s: int) -> int:
    """The CST day number of a Unix time."""
    return (time_s + DAY_OFFSET_S) // 86400


def year_of(time_s: int) -> int:
    """The CST calendar year of a Unix time (proleptic Gregorian)."""
    return datetime.datetime.fromtimestamp(time_s + DAY_OFFSET_S, datetime.UTC).year


# -- keys ----------------------------------------------------------------------
def actor_key(actor_id: str) -> bytes:
    return b"actor/" + actor_id.encode()


def key_owner_key(public_key: bytes) -> bytes:
    return b"key/" + public_key.hex().encode()


def city_key(code: str) -> bytes:
    return b"city/" + code.encode()


def occupation_key(code: str, edition: int, level: int) -> bytes:
    return f"occ/{code}/{edition}/{level}".encode()


POLICY_KEY = b"policy"
PARAMS_KEY = b"params"
VALSET_KEY = b"valset"
PENDING_KEY = b"valset/pending"
HEIGHT_KEY = b"meta/height"
def fund_key(city: str, source: str) -> bytes:
    return f"fund/{city}/{source}".encode()


def proposal_key(proposal_id: bytes) -> bytes:
    return b"gov/" + proposal_id.hex().encode()


def rotation_key(proposal_id: bytes) -> bytes:
    return b"gov/" + proposal_id.hex().encode() + b"/rotate"


def validator_address_key(public_key: bytes) -> bytes:
    return b"valaddr/" + public_key.hex().encode()


def txseen_key(tx_hash: bytes) -> bytes:
    return b"txseen/" + tx_hash.hex().encode()


def class_key(class_id: str) -> bytes:
    return b"class/" + class_id.encode()


def class_trainees_key(class_id: str) -> bytes:
    return b"class/" + class_id.encode() + b"/trainees"


def enrolment_key(class_id: str, trainee: bytes) -> bytes:
    return b"enrol/" + class_id.encode() + b"/" + trainee.hex().encode()


def evidence_key(class_id: str, trainee: bytes) -> bytes:
    return enrolment_key(class_id, trainee) + b"/log"


def categories_key(trainee: bytes) -> bytes:
    return b"cat/" + trainee.hex().encode()


def day_key(trainee: bytes, day: int) -> bytes:
    return b"day/" + trainee.hex().encode() + b"/" + str(day).encode()


def session_key(provider_id: str, session_id: str) -> bytes:
    return b"sess/" + provider_id.encode() + b"/" + session_id.encode()


def assessment_key(provider_id: str, assessment_id: str) -> bytes:
    return b"assess/" + provider_id.encode() + b"/" + assessment_id.encode()


def offline_key(bureau_id: str, record_id: str) -> bytes:
    return b"offline/" + bureau_id.encode() + b"/" + record_id.encode()


def exam_key(bureau_id: str, record_id: str) -> bytes:
    return b"exam/" + bureau_id.encode() + b"/" + record_id.encode()


def certificate_key(number_hash: bytes) -> bytes:
    return b"cert/" + number_hash.hex().encode()


def trainee_certificates_key(trainee: bytes, code: str, edition: int, level: int) -> bytes:
    return f"certs/{trainee.hex()}/{code}/{edition}/{level}".encode()


def claim_key(claim_id: bytes) -> bytes:
    return b"claim/" + claim_id.hex().encode()


def paidfor_key(trainee: bytes, code: str, edition: int, level: int) -> bytes:
    return f"paidfor/{trainee.hex()}/{code}/{edition}/{level}".encode()


def yearly_key(trainee: bytes, year: int) -> bytes:
    return f"yearly/{trainee.hex()}/{year}".encode()


def provider_stats_key(provider_id: str) -> bytes:
    return b"stats/provider/" + provider_id.encode()


def class_stats_key(class_id: str) -> bytes:
    return b"stats/class/" + class_id.encode()


def city_stats_key(code: str) -> bytes:
    return b"stats/city/" + code.encode()


# -- registry records ----------------------------------------------------------
@record
class Actor(Record):
    actor_id: str
    role: str
    name: str
    region_code: str
    active: bool
    public_keys: tuple[bytes, ...]
    since: int


@record
class KeyOwner(Record):
    actor_id: str


@record
class City(Record):
    code: str
    name: str


@record
class Amount(Record):
    """Subsidy for one certificate type; ``city`` is "" for the provincial default."""

    certificate_type: str
    city: str
    amount_fen: int


@record
class StandardVersion(Record):
    effective_from: int
    amounts: tuple[Amount, ...]


@record
class Occupation(Record):
    code: str
    edition: int
    level: int
    name: str
    theory_seconds: int
    practical_seconds: int
    simulation_allowed: bool
    certificate_types: tuple[str, ...]
    standards: tuple[StandardVersion, ...]


@record
class PolicyVersion(Record):
    effective_from: int
    daily_cap_seconds: int
    face_check_interval_seconds: int
    teaching_hour_seconds: int
    simulation_cap_percent: int
    yearly_claim_limit: int
    claim_window_seconds: int
    living_allowance_fen_per_day: int
    living_allowance_cap_days: int
    shortfall_fen_per_day: int
    shortfall_cap_percent: int
    publicity_seconds: int
    eligible_groups: tuple[str, ...]


@record
class PolicyHistory(Record):
    versions: tuple[PolicyVersion, ...]


@record
class Params(Record):
    """Chain parameters the genesis policy model does not carry (set at genesis)."""

    tx_window_heights: int
    valset_delay_heights: int
    max_session_seconds: int
    min_session_seconds: int
    shortfall_day_seconds: int


@record
class Fund(Record):
    region_code: str
    source: str
    budget_fen: int
    reserved_fen: int
    paid_fen: int


# -- validator governance --------------------------------------------------------
@record
class ValidatorList(Record):
    validators: tuple[Validator, ...]


@record
class ScheduledChange(Record):
    effective_height: int
    op: str
    validator: Validator
    proposal_id: Bytes32


@record
class PendingChanges(Record):
    changes: tuple[ScheduledChange, ...]


@record
class Proposal(Record):
    proposal_id: Bytes32
    op: str
    validator: Validator
    proposer: bytes
    height: int
    approvals: tuple[str, ...]
    status: str
    effective_height: int


@record
class ValidatorAddress(Record):
    """Where a validator's link listener is reached: an IP literal or DNS name, a port.

    Kept apart from ``Validator`` so the validator-set hash (and every old header
    and certificate) is untouched by addresses."""

    host: str
    p2p_port: int


@record
class Rotation(Record):
    """The validator key a ``rotate`` proposal replaces (the proposal holds the new one)."""

    old_key: bytes


@record
class Height(Record):
    height: int


@record
class Expiry(Record):
    expires: int


# -- enrolment -------------------------------------------------------------------
@record
class Class(Record):
    class_id: str
    provider_id: str
    organizer_id: str
    occupation_code: str
    edition: int
    level: int
    city: str
    start: int
    end: int
    planned_seconds: int
    opened_at: int
    trainee_count: int


@record
class TraineeList(Record):
    trainees: tuple[bytes, ...]


@record
class Enrolment(Record):
    class_id: str
    trainee: bytes
    check_hash: bytes
    check_method: str
    enrolled_at: int
    theory_seconds: int
    simulation_seconds: int
    offline_seconds: int
    sessions: int
    study_days: tuple[int, ...]
    claim_id: bytes | None


@record
class EvidenceList(Record):
    keys: tuple[bytes, ...]


@record
class Attestation(Record):
    category: str
    evidence_hash: bytes
    valid_from: int
    valid_until: int
    bureau_id: str
    time: int


@record
class Categories(Record):
    attestations: tuple[Attestation, ...]


# -- learning evidence -------------------------------------------------------------
@record
class Interval(Record):
    """Time a trainee spent on one session or offline record (``ref`` is its state key)."""

    start: int
    end: int
    ref: bytes
    class_id: str


@record
class DayLog(Record):
    intervals: tuple[Interval, ...]
    credited_seconds: int


memoize_decoding(DayLog, Enrolment)  # read and rewritten by every session; see the function


@record
class Session(Record):
    provider_id: str
    session_id: str
    trainee: bytes
    class_id: str
    unit: str
    mode: str
    start: int
    end: int
    active_seconds: int
    credited_seconds: int
    credits: str
    captures: int
    failed_captures: int
    log_hash: bytes
    tx_hash: bytes
    status: str
    correction_reason: str


@record
class Assessment(Record):
    provider_id: str
    assessment_id: str
    trainee: bytes
    class_id: str
    unit: str
    score: int
    max_score: int
    passed: bool
    time: int
    evidence_hash: bytes


@record
class OfflinePractice(Record):
    bureau_id: str
    record_id: str
    trainee: bytes
    class_id: str
    start: int
    end: int
    seconds: int
    evidence_hash: bytes


@record
class ExamResult(Record):
    bureau_id: str
    record_id: str
    trainee: bytes
    class_id: str
    part: str
    score: int
    max_score: int
    passed: bool
    time: int
    evidence_hash: bytes


@record
class Certificate(Record):
    number_hash: bytes
    trainee: bytes
    certificate_type: str
    occupation_code: str
    edition: int
    level: int
    issue_date: int
    issuer_id: str
    claim_id: bytes | None


# -- settlement ---------------------------------------------------------------------
@record
class ClaimStep(Record):
    state: str
    officer: bytes
    time: int
    height: int
    reason: str
    reference: bytes


@record
class Claim(Record):
    claim_id: bytes
    organizer_id: str
    trainee: bytes
    class_id: str
    certificate_hash: bytes
    city: str
    source: str
    training_fen: int
    living_fen: int
    full_hours: bool
    state: str
    publicised_at: int
    recover_fen: int
    history: tuple[ClaimStep, ...]


@record
class ClaimRef(Record):
    claim_id: bytes


@record
class Counter(Record):
    count: int


@record
class ProviderStats(Record):
    classes: int
    enrolments: int
    sessions_credited: int
    sessions_rejected: int
    credited_seconds: int
    failed_face_checks: int
    corrections: int
    assessments: int


@record
class CityStats(Record):
    classes: int
    enrolments: int
    certificates: int
    claims_filed: int
    claims_rejected: int
    claims_paid: int
    paid_fen: int
    revoked: int
    recover_fen: int


@record
class ClassStats(Record):
    sessions_credited: int
    sessions_rejected: int
    credited_seconds: int
    failed_face_checks: int
    corrections: int
    claims_filed: int
    claims_paid: int
    paid_fen: int


EMPTY_PROVIDER_STATS = ProviderStats(0, 0, 0, 0, 0, 0, 0, 0)
EMPTY_CLASS_STATS = ClassStats(0, 0, 0, 0, 0, 0, 0, 0)
EMPTY_CITY_STATS = CityStats(0, 0, 0, 0, 0, 0, 0, 0, 0)
