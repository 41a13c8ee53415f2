"""Learning evidence: sessions, corrections, assessments, offline practice, exams, certificates.

Theory of operation. A provider uploads sessions in batches. Each session is
checked on its own and either credited or rejected with a code; one bad
session never sinks the batch (the receipt lists every session's outcome).
A session is credited when, in this order:

1. its id is new for the provider (``duplicate_session``);
2. the trainee is enrolled in the class, which belongs to the provider
   (``not_enrolled``, ``not_class_provider``);
3. it lies inside the class period, ends no later than the block time and is
   not longer than ``params.max_session_seconds`` nor shorter than
   ``params.min_session_seconds`` (which also bounds the size of a day's index);
4. simulation is allowed for the occupation (``simulation_not_allowed``);
5. it overlaps no interval already recorded for the trainee — by any provider,
   in any class (``session_overlap``); intervals live in one ``DayLog`` per
   trainee per CST day, so the check reads one or two small records;
6. face checks: credit runs from the start through passed checks no more than
   the policy interval apart, and stops at the last passed check before a gap
   (``no_face_check`` when nothing is left); never more than the active seconds;
7. simulation credit stops at ``simulation_cap_percent`` of the practical
   requirement (``simulation_cap_exceeded`` when nothing is left);
8. the day's credited study stops at ``daily_cap_seconds``
   (``daily_cap_exceeded`` when nothing is left).

A partially credited session still occupies its whole interval. The rules use
the policy in force at the block time; a session's credit counts towards the
daily cap of the CST day it starts on (its interval is indexed on every day it
touches). Offline practice recorded by a bureau occupies its interval too (no
one practises offline while studying online) but is not subject to the online
daily cap. Corrections never edit: a correction voids a session by reference with a reason code,
takes back its credit and frees its interval; a new session may then be sent.

On the session path (run for every session by every node) a check whose message
is formatted reads ``if ...: fail(code, message)``, so the message is built only
for a rejection; ``require`` remains for constant messages.
"""

from __future__ import annotations

import dataclasses

from chain.types import Event
from contracts import errors as E
from contracts import kinds as K
from contracts.context import Call
from contracts.enrolment import get_class, get_enrolment
from contracts.errors import ContractError, fail, require, require_found
from contracts.model import (
    DAY_OFFSET_S,
    Assessment,
    Certificate,
    Claim,
    Class,
    DayLog,
    Enrolment,
    EvidenceList,
    ExamResult,
    Interval,
    Occupation,
    OfflinePractice,
    Params,
    PolicyVersion,
    Seconds,
    Session,
    assessment_key,
    certificate_key,
    claim_key,
    day_key,
    day_of,
    enrolment_key,
    evidence_key,
    exam_key,
    offline_key,
    session_key,
    trainee_certificates_key,
)
from contracts.model_v2 import (
    DayCredits,
    RulesVersion,
    day_credits_key,
)
from contracts.registry import get_occupation_at, get_params, get_policy_at, get_rules_at
from contracts.state import Overlay
from contracts.stats import on_city_stats, on_class_stats, on_provider_stats

__all__ = ["compute_day_parts", "compute_face_checked_seconds", "get_day_credits",
           "is_overlapping"]

Events = list[Event]
Days = list[tuple[bytes, DayLog]]
_EMPTY_DAY = DayLog((), 0)


# -- pure rules ------------------------------------------------------------------------------
def compute_face_checked_seconds(
    start: int, end: int, passed_times: list[int], interval_s: int
) -> Seconds:
    """Seconds from ``start`` covered by passed face checks at most ``interval_s`` apart."""
    anchor = None
    inside = [t for t in passed_times if start <= t <= end]
    inside.sort()
    for t in inside:
        if t - (start if anchor is None else anchor) > interval_s:
            break
        anchor = t
    if anchor is None:
        return Seconds(0)
    return Seconds(end - start if end - anchor <= interval_s else anchor - start)


def is_overlapping(intervals: tuple[Interval, ...], start: int, end: int) -> Interval | None:
    """The first recorded interval that meets [start, end), or None."""
    for interval in intervals:
        if interval.start < end and start < interval.end:
            return interval
    return None


def compute_days(start: int, end: int) -> range:
    """CST day numbers that [start, end) touches."""
    return range(day_of(start), day_of(end - 1) + 1)


def compute_day_parts(start: int, end: int, credit: int, rooms: list[int]) -> list[int]:
    """Rules v2: ``credit`` spread over the CST days [start, end) touches, first day first,
    each day's part bounded by the session's seconds on that day and by that day's room."""
    parts = []
    for i, day in enumerate(compute_days(start, end)):
        day_start = day * 86400 - DAY_OFFSET_S
        seconds = min(end, day_start + 86400) - max(start, day_start)
        part = max(0, min(credit, seconds, rooms[i]))
        parts.append(part)
        credit -= part
    return parts


# -- reads -------------------------------------------------------------------------------
def get_day_credits(state: Overlay, ref: bytes, start: int, end: int, credited: int
                    ) -> dict[int, int]:
    """Credit of a session or offline record (state key ``ref``) per CST day: a session over
    midnight under rules v2 keeps its split; otherwise all on its first day (v1, and every
    session within one day), an offline record spread in day order."""
    split = state.get_record(day_credits_key(ref), DayCredits)
    if split is not None:
        return dict(zip(split.days, split.credits, strict=True))
    days = compute_days(start, end)
    if ref.startswith(b"offline/") and len(days) > 1:
        parts = compute_day_parts(start, end, credited, [credited] * len(days))
        return dict(zip(days, parts, strict=True))
    return {days.start: credited}


def get_day(state: Overlay, trainee: bytes, day: int) -> DayLog:
    return state.get_record(day_key(trainee, day), DayLog) or _EMPTY_DAY


def get_days(state: Overlay, trainee: bytes, start: int, end: int) -> Days:
    """The day logs (with their keys) of every CST day [start, end) touches, first day first."""
    days = []
    for day in compute_days(start, end):
        key = day_key(trainee, day)
        days.append((key, state.get_record(key, DayLog) or _EMPTY_DAY))
    return days


def get_evidence(state: Overlay, class_id: str, trainee: bytes) -> tuple[bytes, ...]:
    found = state.get_record(evidence_key(class_id, trainee), EvidenceList)
    return found.keys if found else ()


def is_claim_open(state: Overlay, enrolment: Enrolment) -> bool:
    if enrolment.claim_id is None:
        return False
    claim = state.get_record(claim_key(enrolment.claim_id), Claim)
    return claim is not None and claim.state != "rejected"


def require_free_interval(days: Days, start: int, end: int) -> None:
    """Rule 5: [start, end) meets no interval recorded on the days it touches."""
    for _, log in days:
        other = is_overlapping(log.intervals, start, end)
        if other is not None:
            fail(E.SESSION_OVERLAP, f"overlaps {other.ref.decode()} [{other.start}, {other.end})")


def require_in_class(opened: Class, start: int, end: int, now: int) -> None:
    if not (opened.start <= start and end <= opened.end):
        fail(E.OUTSIDE_CLASS_PERIOD,
             f"[{start}, {end}) is outside the class period [{opened.start}, {opened.end})")
    if end > now:
        fail(E.SESSION_IN_FUTURE, f"ends at {end}, after the block time {now}")


def require_session_length(params: Params, start: int, end: int) -> None:
    if end - start > params.max_session_seconds:
        fail(E.SESSION_TOO_LONG, f"longer than {params.max_session_seconds} s")
    if end - start < params.min_session_seconds:
        fail(E.SESSION_TOO_SHORT, f"shorter than {params.min_session_seconds} s")


def require_city_bureau(call: Call, opened: Class) -> None:
    require(call.actor.region_code == opened.city, E.NOT_CITY_BUREAU,
            f"only the bureau of city {opened.city} acts on class {opened.class_id!r}")


# -- mutations shared by several actions ----------------------------------------------------
def on_interval(
    state: Overlay, days: Days, interval: Interval, credit: int, parts: list[int] | None = None
) -> None:
    """Occupy the interval on its days (from ``get_days``); add ``credit`` to the first, or
    (rules v2) each day's part of it."""
    if parts is not None:
        for (key, log), part in zip(days, parts, strict=True):
            state.put(key, DayLog((*log.intervals, interval), log.credited_seconds + part))
        return
    for key, log in days:
        state.put(key, DayLog((*log.intervals, interval), log.credited_seconds + credit))
        credit = 0


def on_evidence(state: Overlay, class_id: str, trainee: bytes, ref: bytes) -> None:
    state.put(evidence_key(class_id, trainee),
              EvidenceList((*get_evidence(state, class_id, trainee), ref)))


def compute_study_days(days: tuple[int, ...], start: int, end: int) -> tuple[int, ...]:
    """``days`` (sorted, distinct) with the CST days [start, end) touches."""
    new = compute_days(start, end)
    if not days or days[-1] < new.start:  # the usual case: a later day than any before
        return days + tuple(new)
    touched = set(days)
    touched.update(new)
    return days if len(touched) == len(days) else tuple(sorted(touched))


# -- sessions ------------------------------------------------------------------------------
class _Batch:
    """Per-tx caches: a batch usually names few classes and one policy."""

    __slots__ = ("classes", "occupations", "params", "policy", "rules", "time")

    def __init__(self, state: Overlay, call: Call) -> None:
        self.policy: PolicyVersion = get_policy_at(state, call.time)
        self.params: Params = get_params(state)
        self.rules: RulesVersion | None = get_rules_at(state, call.time)
        self.time = call.time
        self.classes: dict[str, Class] = {}
        self.occupations: dict[str, Occupation] = {}

    def get_class(self, state: Overlay, class_id: str) -> tuple[Class, Occupation]:
        opened = self.classes.get(class_id)
        if opened is None:
            opened = self.classes[class_id] = get_class(state, class_id)
            self.occupations[class_id] = get_occupation_at(
                state, opened.occupation_code, opened.edition, opened.level, self.time,
                self.rules is not None)
        return opened, self.occupations[class_id]


def process_record_sessions(state: Overlay, call: Call, body: K.RecordSessions) -> Events:
    batch = _Batch(state, call)
    events: Events = []
    counts: dict[str, list[int]] = {}  # class -> credited, rejected, seconds, failed checks
    for session in body.sessions:
        tally = counts.get(session.class_id)
        if tally is None:
            tally = counts[session.class_id] = [0, 0, 0, 0]
        try:
            recorded = process_session(state, call, batch, session)
        except ContractError as exc:
            tally[1] += 1
            events.append(Event("learning.session_rejected",
                                [session.session_id, exc.code, exc.message]))
            continue
        tally[0] += 1
        tally[2] += recorded.credited_seconds
        tally[3] += recorded.failed_captures
        events.append(Event("learning.session_credited",
                            [session.session_id, recorded.credits, recorded.credited_seconds]))
    on_session_stats(state, call, batch, counts)
    return events


def on_session_stats(
    state: Overlay, call: Call, batch: _Batch, counts: dict[str, list[int]]
) -> None:
    """Add a batch's tallies to the provider's counters and to those of its own classes."""
    totals = [sum(t[i] for t in counts.values()) for i in range(4)]
    on_provider_stats(state, call.actor.actor_id, sessions_credited=totals[0],
                      sessions_rejected=totals[1], credited_seconds=totals[2],
                      failed_face_checks=totals[3])
    for class_id in sorted(counts):
        opened = batch.classes.get(class_id)
        if opened is None or opened.provider_id != call.actor.actor_id:
            continue
        tally = counts[class_id]
        on_class_stats(state, class_id, sessions_credited=tally[0], sessions_rejected=tally[1],
                       credited_seconds=tally[2], failed_face_checks=tally[3])


def process_session(state: Overlay, call: Call, batch: _Batch, s: K.SessionBody) -> Session:
    """Check one session (rules 1-8) and credit it; returns the Session record written."""
    provider_id = call.actor.actor_id
    key = session_key(provider_id, s.session_id)
    if state.get_record(key, Session) is not None:
        fail(E.DUPLICATE_SESSION, f"session {s.session_id!r} was recorded before")
    enrolment = get_enrolment(state, s.class_id, s.trainee)
    opened, occupation = batch.get_class(state, s.class_id)
    if opened.provider_id != provider_id:
        fail(E.NOT_CLASS_PROVIDER, f"class {s.class_id!r} belongs to another provider")
    require_in_class(opened, s.start, s.end, call.time)
    require_session_length(batch.params, s.start, s.end)
    if batch.rules is not None:
        require_after_enrolment(batch.rules, enrolment, s.start, s.end, call.time)
    simulation = s.mode == "simulation"
    if simulation and not occupation.simulation_allowed:
        fail(E.SIMULATION_NOT_ALLOWED, f"occupation {occupation.code} does not accept simulation")
    days = get_days(state, s.trainee, s.start, s.end)
    require_free_interval(days, s.start, s.end)
    if batch.rules is None:
        credit = compute_session_credit(batch.policy, s, enrolment, occupation, days[0][1])
        return on_session(state, call, s, key, enrolment, days, credit, simulation)
    credit = compute_session_credit(batch.policy, s, enrolment, occupation, None)
    if len(days) == 1:
        parts = [min(credit, batch.policy.daily_cap_seconds - days[0][1].credited_seconds)]
    else:
        rooms = [batch.policy.daily_cap_seconds - log.credited_seconds for _, log in days]
        parts = compute_day_parts(s.start, s.end, credit, rooms)
    total = sum(parts)
    if total <= 0:
        fail(E.DAILY_CAP_EXCEEDED,
             f"the days' credited study reached {batch.policy.daily_cap_seconds} s")
    if len(days) > 1:
        state.put(day_credits_key(key), DayCredits(tuple(compute_days(s.start, s.end)),
                                                   tuple(parts)))
    return on_session(state, call, s, key, enrolment, days, total, simulation, parts)


def require_after_enrolment(
    rules: RulesVersion, enrolment: Enrolment, start: int, end: int, now: int
) -> None:
    """Rules v2: evidence starts after the real-name check of the enrolment and is uploaded
    within ``upload_delay_seconds`` of its end."""
    if start < enrolment.enrolled_at:
        fail(E.BEFORE_ENROLMENT, f"starts at {start}, before the enrolment at "
             f"{enrolment.enrolled_at}")
    if now - end > rules.upload_delay_seconds:
        fail(E.UPLOAD_TOO_LATE, f"ended at {end}, more than {rules.upload_delay_seconds} s "
             f"before the block time {now}")


def compute_session_credit(
    policy: PolicyVersion, s: K.SessionBody, enrolment: Enrolment, occupation: Occupation,
    first_day: DayLog | None,
) -> Seconds:
    """Credit after face checks, the simulation cap and the daily cap of ``first_day``, the
    log of the day the session starts (rules 6-8); ``first_day`` None: no daily cap here
    (rules v2 applies it per day, ``compute_day_parts``)."""
    passed = [c.time for c in s.captures if c.passed]
    interval_s = policy.face_check_interval_seconds
    checked = compute_face_checked_seconds(s.start, s.end, passed, interval_s)
    credit = min(s.active_seconds, checked)
    require(credit > 0, E.NO_FACE_CHECK, "no time covered by passed face checks")
    if s.mode == "simulation":
        cap = occupation.practical_seconds * policy.simulation_cap_percent // 100
        room = cap - enrolment.simulation_seconds
        if room <= 0:
            fail(E.SIMULATION_CAP_EXCEEDED, f"simulation credit reached its cap {cap} s")
        credit = min(credit, room)
    if first_day is None:
        return Seconds(credit)
    day_room = policy.daily_cap_seconds - first_day.credited_seconds
    if day_room <= 0:
        fail(E.DAILY_CAP_EXCEEDED, f"the day's credited study reached {policy.daily_cap_seconds} s")
    return Seconds(min(credit, day_room))


def on_session(
    state: Overlay, call: Call, s: K.SessionBody, key: bytes, enrolment: Enrolment, days: Days,
    credit: int, simulation: bool, parts: list[int] | None = None,
) -> Session:
    failed = sum(1 for c in s.captures if not c.passed)
    credits = "simulation" if simulation else "theory"
    recorded = Session(
        call.actor.actor_id, s.session_id, s.trainee, s.class_id, s.unit, s.mode, s.start, s.end,
        s.active_seconds, credit, credits, len(s.captures), failed, s.log_hash, call.tx_hash,
        "credited", "",
    )
    state.put(key, recorded)
    on_interval(state, days, Interval(s.start, s.end, key, s.class_id), credit, parts)
    theory, sim = (0, credit) if simulation else (credit, 0)
    e = enrolment  # built by keyword: dataclasses.replace costs more than the rest of this
    state.put(enrolment_key(s.class_id, s.trainee), Enrolment(
        class_id=e.class_id, trainee=e.trainee, check_hash=e.check_hash,
        check_method=e.check_method, enrolled_at=e.enrolled_at,
        theory_seconds=e.theory_seconds + theory, simulation_seconds=e.simulation_seconds + sim,
        offline_seconds=e.offline_seconds, sessions=e.sessions + 1,
        study_days=compute_study_days(e.study_days, s.start, s.end), claim_id=e.claim_id,
    ))
    return recorded


def process_correct_session(state: Overlay, call: Call, body: K.CorrectSession) -> Events:
    key = session_key(call.actor.actor_id, body.session_id)
    session = require_found(state.get_record(key, Session), E.UNKNOWN_SESSION,
                            f"no session {body.session_id!r}")
    require(session.status == "credited", E.SESSION_ALREADY_CORRECTED,
            "the session was corrected before")
    enrolment = get_enrolment(state, session.class_id, session.trainee)
    require(not is_claim_open(state, enrolment), E.CLAIM_IN_PROGRESS,
            "a claim rests on this session; reject the claim first")
    on_void_session(state, session, key, body.reason_code)
    on_provider_stats(state, call.actor.actor_id, corrections=1)
    on_class_stats(state, session.class_id, corrections=1)
    data = [body.session_id, body.reason_code, body.note_hash]
    return [Event("learning.session_corrected", data)]


def on_void_session(state: Overlay, session: Session, key: bytes, reason: str) -> None:
    """Take back a session's credit and interval; the record stays, marked voided."""
    per_day = get_day_credits(state, key, session.start, session.end, session.credited_seconds)
    for day in compute_days(session.start, session.end):
        log = get_day(state, session.trainee, day)
        kept = tuple(i for i in log.intervals if i.ref != key)
        credited = log.credited_seconds - per_day.get(day, 0)
        state.put(day_key(session.trainee, day), DayLog(kept, credited))
    enrolment = get_enrolment(state, session.class_id, session.trainee)
    simulation = session.credits == "simulation"
    state.put(enrolment_key(session.class_id, session.trainee), dataclasses.replace(
        enrolment,
        theory_seconds=enrolment.theory_seconds - (0 if simulation else session.credited_seconds),
        simulation_seconds=enrolment.simulation_seconds
        - (session.credited_seconds if simulation else 0),
        sessions=enrolment.sessions - 1,
        study_days=get_study_days(state, enrolment),
    ))
    state.put(key, dataclasses.replace(session, status="voided", correction_reason=reason))
    on_evidence(state, session.class_id, session.trainee, key)


def get_study_days(state: Overlay, enrolment: Enrolment) -> tuple[int, ...]:
    """The enrolment's study days that still hold an interval of its class."""
    return tuple(
        day for day in enrolment.study_days
        if any(i.class_id == enrolment.class_id
               for i in get_day(state, enrolment.trainee, day).intervals)
    )


# -- assessments, offline practice, exams, certificates ----------------------------------------
def process_record_assessment(state: Overlay, call: Call, body: K.RecordAssessment) -> Events:
    key = assessment_key(call.actor.actor_id, body.assessment_id)
    require(state.get_record(key, Assessment) is None, E.DUPLICATE_RECORD,
            f"assessment {body.assessment_id!r} was recorded before")
    get_enrolment(state, body.class_id, body.trainee)
    opened = get_class(state, body.class_id)
    require(opened.provider_id == call.actor.actor_id, E.NOT_CLASS_PROVIDER,
            f"class {body.class_id!r} belongs to another provider")
    require_in_class(opened, body.time, body.time, call.time)
    state.put(key, Assessment(
        call.actor.actor_id, body.assessment_id, body.trainee, body.class_id, body.unit,
        body.score, body.max_score, body.passed, body.time, body.evidence_hash,
    ))
    on_evidence(state, body.class_id, body.trainee, key)
    on_provider_stats(state, call.actor.actor_id, assessments=1)
    return [Event("learning.assessment_recorded", [body.assessment_id, body.passed])]


def process_record_offline_practice(
    state: Overlay, call: Call, body: K.RecordOfflinePractice
) -> Events:
    key = offline_key(call.actor.actor_id, body.record_id)
    require(state.get_record(key, OfflinePractice) is None, E.DUPLICATE_RECORD,
            f"offline record {body.record_id!r} was recorded before")
    enrolment = get_enrolment(state, body.class_id, body.trainee)
    opened = get_class(state, body.class_id)
    require_city_bureau(call, opened)
    require_in_class(opened, body.start, body.end, call.time)
    rules = get_rules_at(state, call.time)
    if rules is not None:
        params = get_params(state)
        if body.end - body.start > params.max_session_seconds:
            fail(E.OFFLINE_TOO_LONG, f"one offline record covers at most "
                 f"{params.max_session_seconds} s; record each practice day on its own")
        require_after_enrolment(rules, enrolment, body.start, body.end, call.time)
    days = get_days(state, body.trainee, body.start, body.end)
    require_free_interval(days, body.start, body.end)
    state.put(key, OfflinePractice(
        call.actor.actor_id, body.record_id, body.trainee, body.class_id, body.start, body.end,
        body.seconds, body.evidence_hash,
    ))
    on_interval(state, days, Interval(body.start, body.end, key, body.class_id), 0)
    state.put(enrolment_key(body.class_id, body.trainee), dataclasses.replace(
        enrolment,
        offline_seconds=enrolment.offline_seconds + body.seconds,
        study_days=compute_study_days(enrolment.study_days, body.start, body.end),
    ))
    return [Event("learning.offline_recorded", [body.record_id, body.seconds])]


def process_record_exam(state: Overlay, call: Call, body: K.RecordExam) -> Events:
    key = exam_key(call.actor.actor_id, body.record_id)
    require(state.get_record(key, ExamResult) is None, E.DUPLICATE_RECORD,
            f"exam record {body.record_id!r} was recorded before")
    get_enrolment(state, body.class_id, body.trainee)
    opened = get_class(state, body.class_id)
    require_city_bureau(call, opened)
    require(body.time <= call.time, E.DATE_IN_FUTURE, "the exam is dated after the block time")
    state.put(key, ExamResult(
        call.actor.actor_id, body.record_id, body.trainee, body.class_id, body.part, body.score,
        body.max_score, body.passed, body.time, body.evidence_hash,
    ))
    on_evidence(state, body.class_id, body.trainee, key)
    return [Event("learning.exam_recorded", [body.record_id, body.part, body.passed])]


def process_issue_certificate(state: Overlay, call: Call, body: K.IssueCertificate) -> Events:
    key = certificate_key(body.number_hash)
    require(state.get_record(key, Certificate) is None, E.DUPLICATE_CERTIFICATE,
            "a certificate with this number exists")
    v2 = get_rules_at(state, call.time) is not None
    occupation = get_occupation_at(state, body.occupation_code, body.edition, body.level,
                                   body.issue_date, v2)
    require(body.certificate_type in occupation.certificate_types, E.BAD_CERTIFICATE_TYPE,
            f"{body.certificate_type} does not end occupation {occupation.code}")
    require(body.issue_date <= call.time, E.DATE_IN_FUTURE, "issue date after the block time")
    state.put(key, Certificate(
        body.number_hash, body.trainee, body.certificate_type, body.occupation_code,
        body.edition, body.level, body.issue_date, call.actor.actor_id, None,
    ))
    index = trainee_certificates_key(
        body.trainee, body.occupation_code, body.edition, body.level)
    listed = state.get_record(index, EvidenceList)
    state.put(index, EvidenceList((*(listed.keys if listed else ()), key)))
    on_city_stats(state, call.actor.region_code, certificates=1)
    return [Event("learning.certificate_issued", [body.number_hash, body.certificate_type])]

