"""Subsidy settlement: claims from filing to payment, rejection or revocation.

Theory of operation. The class's organizer files a claim for one trainee, one
class and one certificate, naming the fund source. Eligibility is decided on
chain when the claim is filed, under the policy in force on the certificate
date, and the amount is reserved in the funds at once, so the sum of paid and
reserved money never exceeds a fund's budget. Transitions, each by the bureau
of the class's city and each recorded with the officer's key, time and height:

    filed      --approve-->    approved
    approved   --publicise-->  publicised      (listed for policy.publicity_seconds)
    publicised --object-->     filed           (only while the listing runs)
    publicised --pay-->        paid            (only after the listing ends)
    filed | approved | publicised --reject--> rejected   (reservation released)
    paid       --revoke-->     revoked         (amount to recover recorded)

The amount: the standard in force on the certificate date for the occupation,
level, certificate type and the class's city (city override first) when the
hours are complete; otherwise ``shortfall_fen_per_day`` per
``params.shortfall_day_seconds`` of credited study, at most
``shortfall_cap_percent`` of the standard. Special groups add a living
allowance per training day (capped) from the city's employment subsidy fund.
"""

from __future__ import annotations

import dataclasses

from chain.genesis import SPECIAL_GROUPS
from chain.types import Event
from contracts import errors as E
from contracts import kinds as K
from contracts.context import Call
from contracts.enrolment import (
    get_categories,
    get_class,
    get_enrolment,
    is_in_group,
    is_in_group_on_day,
)
from contracts.errors import require, require_found
from contracts.learning import get_day, get_day_credits, is_claim_open
from contracts.model import (
    DAY_OFFSET_S,
    Certificate,
    Claim,
    ClaimRef,
    ClaimStep,
    Counter,
    Enrolment,
    Fen,
    Fund,
    Occupation,
    OfflinePractice,
    Params,
    PolicyVersion,
    Seconds,
    Session,
    certificate_key,
    claim_key,
    day_of,
    enrolment_key,
    fund_key,
    paidfor_key,
    year_of,
    yearly_key,
)
from contracts.model_v2 import (
    ClaimIds,
    PublicityEnd,
    RulesVersion,
    publicity_end_key,
    publicity_list_key,
)
from contracts.registry import (
    get_calendar,
    get_occupation_at,
    get_params,
    get_policy_at,
    get_related_occupations,
    get_rules,
    get_rules_at,
    get_standard_fen,
)
from contracts.state import Overlay
from contracts.stats import on_city_stats, on_class_stats

__all__ = [
    "TRANSITIONS",
    "compute_living_fen",
    "compute_publicity_end",
    "compute_training_fen",
    "is_working_day",
]

Events = list[Event]
LIVING_SOURCE = "employment_subsidy"

TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({"filed"}), "approved"),
    "publicise": (frozenset({"approved"}), "publicised"),
    "object": (frozenset({"publicised"}), "filed"),
    "pay": (frozenset({"publicised"}), "paid"),
    "reject": (frozenset({"filed", "approved", "publicised"}), "rejected"),
    "revoke": (frozenset({"paid"}), "revoked"),
}


# -- pure ------------------------------------------------------------------------------------
def is_hours_complete(occupation: Occupation, enrolment: Enrolment) -> bool:
    practical = enrolment.offline_seconds + enrolment.simulation_seconds
    return (enrolment.theory_seconds >= occupation.theory_seconds
            and practical >= occupation.practical_seconds)


def compute_training_fen(
    standard_fen: Fen, complete: bool, credited_s: Seconds, policy: PolicyVersion, params: Params
) -> Fen:
    """The full standard, or the shortfall amount when hours fall short."""
    if complete:
        return standard_fen
    days = credited_s // params.shortfall_day_seconds
    return Fen(min(days * policy.shortfall_fen_per_day,
                   standard_fen * policy.shortfall_cap_percent // 100))


def compute_living_fen(special: bool, study_days: int, policy: PolicyVersion) -> Fen:
    """Living allowance of a special-group trainee: per study day, days capped."""
    if not special:
        return Fen(0)
    days = min(study_days, policy.living_allowance_cap_days)
    return Fen(days * policy.living_allowance_fen_per_day)


def is_working_day(day: int, non_working: frozenset[int], working: frozenset[int]) -> bool:
    """Monday to Friday in CST unless a listed holiday; a listed weekend day is worked.
    CST day 0 (1970-01-01) was a Thursday."""
    if day in working:
        return True
    return (day + 3) % 7 < 5 and day not in non_working


def compute_publicity_end(listed_at: int, working_days: int, seconds: int,
                          non_working: frozenset[int], working: frozenset[int]) -> int:
    """Rules v2: when a listing made at ``listed_at`` ends. ``working_days`` > 0: at the end
    (24:00 CST) of the N-th working day after the listing day; otherwise ``seconds`` later."""
    if working_days <= 0:
        return listed_at + seconds
    day = day_of(listed_at)
    counted = 0
    for _ in range(working_days * 7 + len(non_working) + 7):  # bounded: holidays are listed
        day += 1
        if is_working_day(day, non_working, working):
            counted += 1
            if counted == working_days:
                return (day + 1) * 86400 - DAY_OFFSET_S
    return (day + 1) * 86400 - DAY_OFFSET_S


# -- reads --------------------------------------------------------------------------------------
def get_claim(state: Overlay, claim_id: bytes) -> Claim:
    claim = state.get_record(claim_key(claim_id), Claim)
    return require_found(claim, E.UNKNOWN_CLAIM, f"no claim {claim_id.hex()[:16]}")


def get_fund(state: Overlay, city: str, source: str) -> Fund:
    fund = state.get_record(fund_key(city, source), Fund)
    return require_found(fund, E.UNKNOWN_FUND, f"city {city} has no {source} fund")


def is_paid_for(state: Overlay, trainee: bytes, occupation: Occupation, v2: bool = False) -> bool:
    """True when a claim that is not rejected exists for this person, occupation and level
    (rules v2: or for an occupation the admin declared its predecessor or successor)."""
    idents = [(occupation.code, occupation.edition, occupation.level)]
    if v2:
        idents += [(r.code, r.edition, r.level) for r in get_related_occupations(state, occupation)]
    for code, edition, level in idents:
        ref = state.get_record(paidfor_key(trainee, code, edition, level), ClaimRef)
        if ref is not None and get_claim(state, ref.claim_id).state != "rejected":
            return True
    return False


def compute_living_days(
    state: Overlay, rules: RulesVersion, enrolment: Enrolment
) -> int:
    """Rules v2: the study days of the enrolment with at least ``min_study_day_seconds`` of
    credited study in its class (sessions by their per-day credit, offline practice) on
    which the trainee held a special-group attestation."""
    attestations = get_categories(state, enrolment.trainee)
    special = frozenset(rules.special_groups)
    count = 0
    for day in enrolment.study_days:
        if not is_in_group_on_day(attestations, special, day):
            continue
        credited = 0
        for interval in get_day(state, enrolment.trainee, day).intervals:
            if interval.class_id != enrolment.class_id:
                continue
            if interval.ref.startswith(b"offline/"):
                offline = state.get_record(interval.ref, OfflinePractice)
                seconds = offline.seconds if offline else 0
            else:
                session = state.get_record(interval.ref, Session)
                seconds = session.credited_seconds if session else 0
            per_day = get_day_credits(state, interval.ref, interval.start, interval.end, seconds)
            credited += per_day.get(day, 0)
        if credited >= rules.min_study_day_seconds:
            count += 1
    return count


def get_yearly_count(state: Overlay, trainee: bytes, year: int) -> int:
    counter = state.get_record(yearly_key(trainee, year), Counter)
    return counter.count if counter else 0


def compute_needs(source: str, training_fen: int, living_fen: int) -> dict[str, int]:
    """Fen to reserve per fund source."""
    needs = {source: training_fen}
    if living_fen:
        needs[LIVING_SOURCE] = needs.get(LIVING_SOURCE, 0) + living_fen
    return needs


# -- filing --------------------------------------------------------------------------------
def get_certificate(state: Overlay, number_hash: bytes) -> Certificate:
    cert = state.get_record(certificate_key(number_hash), Certificate)
    return require_found(cert, E.UNKNOWN_CERTIFICATE, "no certificate with this number")


def require_matching_certificate(
    state: Overlay, cert: Certificate, trainee: bytes, occupation: Occupation, enrolment: Enrolment
) -> None:
    require(cert.trainee == trainee and cert.occupation_code == occupation.code
            and cert.edition == occupation.edition and cert.level == occupation.level,
            E.CERTIFICATE_MISMATCH, "the certificate is not this trainee's for this occupation")
    require(cert.issue_date >= enrolment.enrolled_at, E.CERTIFICATE_BEFORE_ENROLMENT,
            "the certificate was issued before the enrolment")
    require(cert.claim_id is None or get_claim(state, cert.claim_id).state == "rejected",
            E.CERTIFICATE_USED, "the certificate backs another claim")


def process_file_claim(state: Overlay, call: Call, body: K.FileClaim) -> Events:
    opened = get_class(state, body.class_id)
    require(opened.organizer_id == call.actor.actor_id, E.NOT_CLASS_ORGANIZER,
            f"class {body.class_id!r} is organised by another actor")
    enrolment = get_enrolment(state, body.class_id, body.trainee)
    require(not is_claim_open(state, enrolment), E.CLAIM_IN_PROGRESS, "a claim is open already")
    cert = get_certificate(state, body.certificate_hash)
    rules = get_rules_at(state, cert.issue_date)
    occupation = get_occupation_at(state, opened.occupation_code, opened.edition, opened.level,
                                   cert.issue_date, rules is not None)
    require_matching_certificate(state, cert, body.trainee, occupation, enrolment)
    policy = get_policy_at(state, cert.issue_date)
    require(call.time <= cert.issue_date + policy.claim_window_seconds, E.CLAIM_WINDOW_CLOSED,
            "the claim window after the certificate date has closed")
    groups = policy.eligible_groups if rules is None else (*rules.groups, *rules.special_groups)
    require("general" in groups
            or is_in_group(state, body.trainee, groups, cert.issue_date),
            E.NOT_ELIGIBLE_GROUP, "the trainee belongs to no eligible group")
    require(not is_paid_for(state, body.trainee, occupation, rules is not None),
            E.ALREADY_SUBSIDISED, "already subsidised for this occupation and level")
    year = year_of(call.time)
    require(get_yearly_count(state, body.trainee, year) < policy.yearly_claim_limit,
            E.YEARLY_LIMIT_REACHED, f"yearly limit {policy.yearly_claim_limit} reached")
    standard = get_standard_fen(occupation, cert.certificate_type, opened.city, cert.issue_date)
    complete = is_hours_complete(occupation, enrolment)
    credited = Seconds(
        enrolment.theory_seconds + enrolment.simulation_seconds + enrolment.offline_seconds)
    training = compute_training_fen(standard, complete, credited, policy, get_params(state))
    require(training > 0, E.HOURS_INSUFFICIENT, "hours fall short and earn no shortfall subsidy")
    if rules is None:
        special = is_in_group(state, body.trainee, SPECIAL_GROUPS, cert.issue_date)
        living = compute_living_fen(special, len(enrolment.study_days), policy)
    else:
        living = compute_living_fen(True, compute_living_days(state, rules, enrolment), policy)
    needs = compute_needs(body.source, training, living)
    for source, fen in sorted(needs.items()):
        fund = get_fund(state, opened.city, source)
        require(fund.budget_fen - fund.reserved_fen - fund.paid_fen >= fen, E.FUND_EXHAUSTED,
                f"the {source} fund of {opened.city} lacks {fen} fen")
    claim = Claim(
        call.tx_hash, call.actor.actor_id, body.trainee, body.class_id, body.certificate_hash,
        opened.city, body.source, training, living, complete, "filed", 0, 0,
        (ClaimStep("filed", call.sender, call.time, call.height, "", b""),),
    )
    on_filed(state, claim, cert, enrolment, occupation, needs, year)
    return [Event("settlement.claim_filed", [call.tx_hash, training, living, complete])]


def on_filed(
    state: Overlay, claim: Claim, cert: Certificate, enrolment: Enrolment, occupation: Occupation,
    needs: dict[str, int], year: int,
) -> None:
    state.put(claim_key(claim.claim_id), claim)
    state.put(certificate_key(cert.number_hash), dataclasses.replace(cert, claim_id=claim.claim_id))
    state.put(enrolment_key(enrolment.class_id, enrolment.trainee),
              dataclasses.replace(enrolment, claim_id=claim.claim_id))
    state.put(paidfor_key(claim.trainee, occupation.code, occupation.edition, occupation.level),
              ClaimRef(claim.claim_id))
    state.put(yearly_key(claim.trainee, year),
              Counter(get_yearly_count(state, claim.trainee, year) + 1))
    on_funds(state, claim.city, needs, reserved=1, paid=0)
    on_city_stats(state, claim.city, claims_filed=1)
    on_class_stats(state, claim.class_id, claims_filed=1)


def on_funds(state: Overlay, city: str, needs: dict[str, int], reserved: int, paid: int) -> None:
    """Move ``needs`` into (+1) or out of (-1) the reserved and paid totals."""
    for source, fen in sorted(needs.items()):
        fund = get_fund(state, city, source)
        state.put(fund_key(city, source), dataclasses.replace(
            fund, reserved_fen=fund.reserved_fen + reserved * fen,
            paid_fen=fund.paid_fen + paid * fen))


# -- review --------------------------------------------------------------------------------
def get_reviewable_claim(state: Overlay, call: Call, claim_id: bytes, action: str) -> Claim:
    """The claim, checked for the acting bureau's city and the transition's source state."""
    claim = get_claim(state, claim_id)
    require(call.actor.region_code == claim.city, E.NOT_CITY_BUREAU,
            f"only the bureau of city {claim.city} acts on this claim")
    sources, _ = TRANSITIONS[action]
    require(claim.state in sources, E.BAD_CLAIM_STATE, f"cannot {action} a {claim.state} claim")
    return claim


def on_step(
    state: Overlay, call: Call, claim: Claim, action: str, reason: str = "",
    reference: bytes = b"", **changes: int,
) -> Claim:
    target = TRANSITIONS[action][1]
    step = ClaimStep(target, call.sender, call.time, call.height, reason, reference)
    updated = dataclasses.replace(claim, state=target, history=(*claim.history, step), **changes)
    state.put(claim_key(claim.claim_id), updated)
    return updated


def get_publicity_end(state: Overlay, call: Call, claim: Claim) -> int:
    """When the claim's listing ends: fixed at listing under rules v2; v1 reads the period
    of the policy in force now (as chains made under v1 did)."""
    fixed = state.get_record(publicity_end_key(claim.claim_id), PublicityEnd)
    if fixed is not None:
        return fixed.until
    return claim.publicised_at + get_policy_at(state, call.time).publicity_seconds


def on_listing(state: Overlay, claim: Claim, listed: bool) -> None:
    """Rules v2: keep ``publicity/<city>``, the claims listed now (the public listing)."""
    if get_rules(state) is None:
        return
    key = publicity_list_key(claim.city)
    found = state.get_record(key, ClaimIds)
    ids = [i for i in (found.claim_ids if found else ()) if i != claim.claim_id]
    if listed:
        ids.append(claim.claim_id)
    state.put(key, ClaimIds(tuple(ids)))


def process_approve_claim(state: Overlay, call: Call, body: K.ClaimAction) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "approve")
    on_step(state, call, claim, "approve")
    return [Event("settlement.claim_approved", [body.claim_id])]


def process_publicise_claim(state: Overlay, call: Call, body: K.ClaimAction) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "publicise")
    on_step(state, call, claim, "publicise", publicised_at=call.time)
    rules = get_rules_at(state, call.time)
    if rules is not None:
        calendar = get_calendar(state)
        until = compute_publicity_end(
            call.time, rules.publicity_working_days,
            get_policy_at(state, call.time).publicity_seconds,
            frozenset(calendar.non_working_days), frozenset(calendar.working_days))
        state.put(publicity_end_key(claim.claim_id), PublicityEnd(until))
        on_listing(state, claim, listed=True)
        return [Event("settlement.claim_publicised", [body.claim_id, call.time, until])]
    return [Event("settlement.claim_publicised", [body.claim_id, call.time])]


def process_object_claim(state: Overlay, call: Call, body: K.ObjectClaim) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "object")
    require(call.time < get_publicity_end(state, call, claim), E.PUBLICITY_OVER,
            "the publicity period is over")
    on_listing(state, claim, listed=False)
    on_step(state, call, claim, "object", reference=body.objection_hash)
    return [Event("settlement.claim_objected", [body.claim_id, body.objection_hash])]


def process_pay_claim(state: Overlay, call: Call, body: K.PayClaim) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "pay")
    require(call.time >= get_publicity_end(state, call, claim), E.PUBLICITY_NOT_OVER,
            "the publicity period is still running")
    on_listing(state, claim, listed=False)
    on_step(state, call, claim, "pay", reference=body.payment_ref_hash)
    needs = compute_needs(claim.source, claim.training_fen, claim.living_fen)
    on_funds(state, claim.city, needs, reserved=-1, paid=1)
    total = claim.training_fen + claim.living_fen
    on_city_stats(state, claim.city, claims_paid=1, paid_fen=total)
    on_class_stats(state, claim.class_id, claims_paid=1, paid_fen=total)
    return [Event("settlement.claim_paid", [body.claim_id, total])]


def process_reject_claim(state: Overlay, call: Call, body: K.RejectClaim) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "reject")
    if claim.state == "publicised":
        on_listing(state, claim, listed=False)
    on_step(state, call, claim, "reject", reason=body.reason_code)
    needs = compute_needs(claim.source, claim.training_fen, claim.living_fen)
    on_funds(state, claim.city, needs, reserved=-1, paid=0)
    year = year_of(claim.history[0].time)
    count = get_yearly_count(state, claim.trainee, year)
    state.put(yearly_key(claim.trainee, year), Counter(max(count - 1, 0)))
    on_city_stats(state, claim.city, claims_rejected=1)
    return [Event("settlement.claim_rejected", [body.claim_id, body.reason_code])]


def process_revoke_claim(state: Overlay, call: Call, body: K.RevokeClaim) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "revoke")
    total = claim.training_fen + claim.living_fen
    require(0 < body.recover_fen <= total, E.BAD_RECOVERY_AMOUNT,
            f"amount to recover must be 1..{total} fen")
    on_step(state, call, claim, "revoke", reason=body.reason_code, recover_fen=body.recover_fen)
    on_city_stats(state, claim.city, revoked=1, recover_fen=body.recover_fen)
    return [Event("settlement.claim_revoked", [body.claim_id, body.recover_fen])]
