"""Read-only queries; each returns (JSON-able dict, the state keys it read).

The node attaches a proof for every key read (inclusion or exclusion), so a
bureau or an auditor can check an answer against a certified state root in one
step: the credited hours of a trainee, the sessions behind them and the claim.
Bytes are rendered as hex.
"""

from __future__ import annotations

from typing import Any, TypeVar

from chain.records import Record
from contracts.model import (
    EMPTY_CLASS_STATS,
    Assessment,
    Certificate,
    CityStats,
    Claim,
    Class,
    ClassStats,
    DayLog,
    Enrolment,
    EvidenceList,
    ExamResult,
    Fund,
    Occupation,
    OfflinePractice,
    ProviderStats,
    Session,
    TraineeList,
    certificate_key,
    city_stats_key,
    claim_key,
    class_key,
    class_stats_key,
    class_trainees_key,
    day_key,
    enrolment_key,
    evidence_key,
    fund_key,
    occupation_key,
    provider_stats_key,
    trainee_certificates_key,
)
from contracts.state import Overlay

__all__ = [
    "QueryResult",
    "query_city_stats",
    "query_claim",
    "query_policy",
    "query_publicity",
    "query_class",
    "query_progress",
    "query_provider_stats",
]

R = TypeVar("R", bound=Record)
QueryResult = tuple[dict[str, Any], list[bytes]]
_EVIDENCE_TYPES: dict[bytes, type[Record]] = {
    b"sess/": Session, b"assess/": Assessment, b"offline/": OfflinePractice, b"exam/": ExamResult,
}
_EVIDENCE_NAMES = {b"sess/": "sessions", b"assess/": "assessments", b"offline/": "offline",
                   b"exam/": "exams"}


class _Reads:
    """Records every key a query reads, in order, once."""

    def __init__(self, state: Overlay) -> None:
        self.state = state
        self.keys: list[bytes] = []

    def get(self, key: bytes, cls: type[R]) -> R | None:
        if key not in self.keys:
            self.keys.append(key)
        return self.state.get_record(key, cls)


def to_json(value: Any) -> Any:
    """A record (or value) as plain JSON: dicts by field name, bytes as hex."""
    if isinstance(value, Record):
        return {name: to_json(getattr(value, name)) for name in value._fields}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def get_evidence_refs(reads: _Reads, enrolment: Enrolment) -> list[bytes]:
    """Keys of the enrolment's sessions and offline records (from the day logs of its study
    days) and of its assessments, exams and voided sessions (from its evidence list)."""
    refs: list[bytes] = []
    for day in enrolment.study_days:
        log = reads.get(day_key(enrolment.trainee, day), DayLog)
        for interval in log.intervals if log else ():
            if interval.class_id == enrolment.class_id and interval.ref not in refs:
                refs.append(interval.ref)
    listed = reads.get(evidence_key(enrolment.class_id, enrolment.trainee), EvidenceList)
    refs.extend(ref for ref in (listed.keys if listed else ()) if ref not in refs)
    return refs


def query_progress(state: Overlay, class_id: str, trainee: bytes) -> QueryResult:
    """A trainee's credited hours, evidence, certificates and claim in one class."""
    reads = _Reads(state)
    opened = reads.get(class_key(class_id), Class)
    enrolment = reads.get(enrolment_key(class_id, trainee), Enrolment)
    if opened is None or enrolment is None:
        return {"found": False, "class_id": class_id, "trainee": trainee.hex()}, reads.keys
    occupation = reads.get(
        occupation_key(opened.occupation_code, opened.edition, opened.level), Occupation)
    evidence: dict[str, list[Any]] = {"sessions": [], "assessments": [], "offline": [], "exams": []}
    for ref in get_evidence_refs(reads, enrolment):
        prefix = next(p for p in _EVIDENCE_TYPES if ref.startswith(p))
        found = reads.get(ref, _EVIDENCE_TYPES[prefix])
        evidence[_EVIDENCE_NAMES[prefix]].append({"key": ref.decode(), **to_json(found)})
    certs_index = reads.get(trainee_certificates_key(
        trainee, opened.occupation_code, opened.edition, opened.level), EvidenceList)
    cert_keys = certs_index.keys if certs_index else ()
    certificates = [to_json(reads.get(k, Certificate)) for k in cert_keys]
    claim = reads.get(claim_key(enrolment.claim_id), Claim) if enrolment.claim_id else None
    result = {
        "found": True,
        "class_id": class_id,
        "trainee": trainee.hex(),
        "theory_seconds": enrolment.theory_seconds,
        "simulation_seconds": enrolment.simulation_seconds,
        "offline_seconds": enrolment.offline_seconds,
        "practical_seconds": enrolment.offline_seconds + enrolment.simulation_seconds,
        "required_theory_seconds": occupation.theory_seconds if occupation else None,
        "required_practical_seconds": occupation.practical_seconds if occupation else None,
        "study_days": len(enrolment.study_days),
        "enrolment": to_json(enrolment),
        **evidence,
        "certificates": certificates,
        "claim": to_json(claim) if claim else None,
        "claim_state": claim.state if claim else None,
    }
    return result, reads.keys


def query_class(state: Overlay, class_id: str) -> QueryResult:
    reads = _Reads(state)
    opened = reads.get(class_key(class_id), Class)
    if opened is None:
        return {"found": False, "class_id": class_id}, reads.keys
    trainees = reads.get(class_trainees_key(class_id), TraineeList)
    stats = reads.get(class_stats_key(class_id), ClassStats)
    result = {"found": True, **to_json(opened),
              "trainees": to_json(trainees.trainees) if trainees else [],
              "stats": to_json(stats or EMPTY_CLASS_STATS)}
    return result, reads.keys


def query_claim(state: Overlay, claim_id: bytes) -> QueryResult:
    reads = _Reads(state)
    claim = reads.get(claim_key(claim_id), Claim)
    if claim is None:
        return {"found": False, "claim_id": claim_id.hex()}, reads.keys
    cert = reads.get(certificate_key(claim.certificate_hash), Certificate)
    return {"found": True, **to_json(claim), "certificate": to_json(cert)}, reads.keys


def query_provider_stats(state: Overlay, provider_id: str) -> QueryResult:
    reads = _Reads(state)
    stats = reads.get(provider_stats_key(provider_id), ProviderStats)
    return {"provider_id": provider_id, **(to_json(stats) if stats else {})}, reads.keys


def query_city_stats(state: Overlay, city: str) -> QueryResult:
    reads = _Reads(state)
    stats = reads.get(city_stats_key(city), CityStats)
    funds = {}
    for source in ("employment_subsidy", "unemployment_insurance"):
        fund = reads.get(fund_key(city, source), Fund)
        funds[source] = to_json(fund) if fund else None
    return {"city": city, **(to_json(stats) if stats else {}), "funds": funds}, reads.keys


def query_policy(state: Overlay, time_s: int) -> QueryResult:
    """The policy (and, under rules v2, the rules terms) in force at ``time_s``, with history."""
    from contracts.model import POLICY_KEY, PolicyHistory
    from contracts.model_v2 import RULES_KEY, RulesHistory

    reads = _Reads(state)
    history = reads.get(POLICY_KEY, PolicyHistory)
    rules = reads.get(RULES_KEY, RulesHistory)
    versions = history.versions if history else ()
    in_force = [v for v in versions if v.effective_from <= time_s]
    rules_in_force = [v for v in (rules.versions if rules else ()) if v.effective_from <= time_s]
    return {
        "time": time_s,
        "rules_version": rules.version if rules else 1,
        "in_force": to_json(in_force[-1]) if in_force else None,
        "rules_in_force": to_json(rules_in_force[-1]) if rules_in_force else None,
        "versions": to_json(versions),
    }, reads.keys


def query_publicity(state: Overlay, city: str) -> QueryResult:
    """Rules v2: the claims of a city listed now, each with its amounts and listing end."""
    from contracts.model_v2 import ClaimIds, PublicityEnd, publicity_end_key, publicity_list_key

    reads = _Reads(state)
    listed = reads.get(publicity_list_key(city), ClaimIds)
    claims = []
    for claim_id in listed.claim_ids if listed else ():
        claim = reads.get(claim_key(claim_id), Claim)
        end = reads.get(publicity_end_key(claim_id), PublicityEnd)
        if claim is None:
            continue
        claims.append({"claim_id": claim_id.hex(), "class_id": claim.class_id,
                       "organizer_id": claim.organizer_id, "trainee": claim.trainee.hex(),
                       "training_fen": claim.training_fen, "living_fen": claim.living_fen,
                       "publicised_at": claim.publicised_at,
                       "until": end.until if end else None})
    return {"city": city, "claims": claims}, reads.keys
