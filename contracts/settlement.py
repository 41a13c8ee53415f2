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
from contracts.enrolment import get_class, get_enrolment, is_in_group
from contracts.errors import require, require_found
from contracts.learning import is_claim_open
from contracts.model import (
    Certificate,
    Claim,
    ClaimRef,
    ClaimStep,
    Counter,
    Enrolment,
    Fen,
    Fund,
    Occupation,
    Params,
    PolicyVersion,
    Seconds,
    certificate_key,
    claim_key,
    enrolment_key,
    fund_key,
    paidfor_key,
    year_of,
    yearly_key,
)
from contracts.registry import get_occupation, get_params, get_policy_at, get_standard_fen
from contracts.state import Overlay
from contracts.stats import on_city_stats, on_class_stats

__all__ = ["compute_training_fen", "compute_living_fen", "TRANSITIONS"]

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


# -- reads --------------------------------------------------------------------------------------
def get_claim(state: Overlay, claim_id: bytes) -> Claim:
    claim = state.get_record(claim_key(claim_id), Claim)
    return require_found(claim, E.UNKNOWN_CLAIM, f"no claim {claim_id.hex()[:16]}")


def get_fund(state: Overlay, city: str, source: str) -> Fund:
    fund = state.get_record(fund_key(city, source), Fund)
    return require_found(fund, E.UNKNOWN_FUND, f"city {city} has no {source} fund")


def is_paid_for(state: Overlay, trainee: bytes, occupation: Occupation) -> bool:
    """True when a claim that is not rejected exists for this person, occupation and level."""
    ref = state.get_record(
        paidfor_key(trainee, occupation.code, occupation.edition, occupation.level), ClaimRef)
    if ref is None:
        return False
    return get_claim(state, ref.claim_id).state != "rejected"


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
    occupation = get_occupation(state, opened.occupation_code, opened.edition, opened.level)
    cert = get_certificate(state, body.certificate_hash)
    require_matching_certificate(state, cert, body.trainee, occupation, enrolment)
    policy = get_policy_at(state, cert.issue_date)
    require(call.time <= cert.issue_date + policy.claim_window_seconds, E.CLAIM_WINDOW_CLOSED,
            "the claim window after the certificate date has closed")
    special = is_in_group(state, body.trainee, SPECIAL_GROUPS, cert.issue_date)
    require("general" in policy.eligible_groups
            or is_in_group(state, body.trainee, policy.eligible_groups, cert.issue_date),
            E.NOT_ELIGIBLE_GROUP, "the trainee belongs to no eligible group")
    require(not is_paid_for(state, body.trainee, occupation), E.ALREADY_SUBSIDISED,
            "already subsidised for this occupation and level")
    year = year_of(call.time)
    require(get_yearly_count(state, body.trainee, year) < policy.yearly_claim_limit,
            E.YEARLY_LIMIT_REACHED, f"yearly limit {policy.yearly_claim_limit} reached")
    standard = get_standard_fen(occupation, cert.certificate_type, opened.city, cert.issue_date)
    complete = is_hours_complete(occupation, enrolment)
    credited = Seconds(
        enrolment.theory_seconds + enrolment.simulation_seconds + enrolment.offline_seconds)
    training = compute_training_fen(standard, complete, credited, policy, get_params(state))
    require(training > 0, E.HOURS_INSUFFICIENT, "hours fall short and earn no shortfall subsidy")
    living = compute_living_fen(special, len(enrolment.study_days), policy)
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


def process_approve_claim(state: Overlay, call: Call, body: K.ClaimAction) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "approve")
    on_step(state, call, claim, "approve")
    return [Event("settlement.claim_approved", [body.claim_id])]


def process_publicise_claim(state: Overlay, call: Call, body: K.ClaimAction) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "publicise")
    on_step(state, call, claim, "publicise", publicised_at=call.time)
    return [Event("settlement.claim_publicised", [body.claim_id, call.time])]


def process_object_claim(state: Overlay, call: Call, body: K.ObjectClaim) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "object")
    publicity = get_policy_at(state, call.time).publicity_seconds
    require(call.time < claim.publicised_at + publicity, E.PUBLICITY_OVER,
            "the publicity period is over")
    on_step(state, call, claim, "object", reference=body.objection_hash)
    return [Event("settlement.claim_objected", [body.claim_id, body.objection_hash])]


def process_pay_claim(state: Overlay, call: Call, body: K.PayClaim) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "pay")
    publicity = get_policy_at(state, call.time).publicity_seconds
    require(call.time >= claim.publicised_at + publicity, E.PUBLICITY_NOT_OVER,
            "the publicity period is still running")
    on_step(state, call, claim, "pay", reference=body.payment_ref_hash)
    needs = compute_needs(claim.source, claim.training_fen, claim.living_fen)
    on_funds(state, claim.city, needs, reserved=-1, paid=1)
    total = claim.training_fen + claim.living_fen
    on_city_stats(state, claim.city, claims_paid=1, paid_fen=total)
    on_class_stats(state, claim.class_id, claims_paid=1, paid_fen=total)
    return [Event("settlement.claim_paid", [body.claim_id, total])]


def process_reject_claim(state: Overlay, call: Call, body: K.RejectClaim) -> Events:
    claim = get_reviewable_claim(state, call, body.claim_id, "reject")
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
