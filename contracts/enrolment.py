"""Enrolment: a provider opens classes and enrols trainees; a bureau attests categories.

A trainee is a 32-byte pseudonym (HMAC of the ID number under an off-chain
provincial secret); the provider records the hash and method of its real-name
check, never the data itself. A special-group category is attested by a
bureau with an evidence hash and a validity period; the settlement contract
reads it when deciding eligibility and the living allowance.
"""

from __future__ import annotations

import dataclasses

from chain.genesis import SPECIAL_GROUPS
from chain.types import Event
from contracts import errors as E
from contracts import kinds as K
from contracts.context import Call
from contracts.errors import fail, require, require_found
from contracts.kinds import category_v1_message
from contracts.model import (
    DAY_OFFSET_S,
    Actor,
    Attestation,
    Categories,
    Class,
    Enrolment,
    TraineeList,
    actor_key,
    categories_key,
    class_key,
    class_trainees_key,
    enrolment_key,
)
from contracts.registry import get_occupation, get_rules_at, is_city
from contracts.state import Overlay
from contracts.stats import on_city_stats, on_provider_stats

__all__ = ["get_class", "get_enrolment", "is_in_group", "is_in_group_on_day"]

Events = list[Event]


def get_class(state: Overlay, class_id: str) -> Class:
    found = state.get_record(class_key(class_id), Class)
    return require_found(found, E.UNKNOWN_CLASS, f"no class {class_id!r}")


def get_enrolment(state: Overlay, class_id: str, trainee: bytes) -> Enrolment:
    found = state.get_record(enrolment_key(class_id, trainee), Enrolment)
    if found is None:  # the message is formatted only when needed: this is on the session path
        fail(E.NOT_ENROLLED, f"trainee {trainee.hex()[:16]} is not enrolled in class {class_id!r}")
    return found


def get_categories(state: Overlay, trainee: bytes) -> tuple[Attestation, ...]:
    found = state.get_record(categories_key(trainee), Categories)
    return found.attestations if found else ()


def is_in_group(state: Overlay, trainee: bytes, groups: tuple[str, ...], time_s: int) -> bool:
    """True when the trainee holds an attestation of one of ``groups`` valid at ``time_s``."""
    return any(
        a.category in groups and a.valid_from <= time_s < a.valid_until
        for a in get_categories(state, trainee)
    )


def is_in_group_on_day(
    attestations: tuple[Attestation, ...], groups: tuple[str, ...] | frozenset[str], day: int
) -> bool:
    """True when an attestation of one of ``groups`` is valid at some time of CST ``day``."""
    day_start = day * 86400 - DAY_OFFSET_S
    day_end = day_start + 86400
    return any(a.category in groups and a.valid_from < day_end and day_start < a.valid_until
               for a in attestations)


def process_open_class(state: Overlay, call: Call, body: K.OpenClass) -> Events:
    organizer = state.get_record(actor_key(body.organizer_id), Actor)
    require(state.get_record(class_key(body.class_id), Class) is None, E.CLASS_EXISTS,
            f"class {body.class_id!r} exists")
    require(organizer is not None and organizer.role == "organizer" and organizer.active,
            E.NOT_ORGANIZER, f"{body.organizer_id!r} is not an active organizer")
    get_occupation(state, body.occupation_code, body.edition, body.level)
    require(is_city(state, body.city), E.UNKNOWN_CITY, f"no city {body.city}")
    require(body.end > call.time, E.BAD_PERIOD, "the class period has already ended")
    rules = get_rules_at(state, call.time)
    if rules is not None and body.start < call.time - rules.class_backdate_seconds:
        fail(E.CLASS_BACKDATED, f"a class may start at most {rules.class_backdate_seconds} s "
             f"before it is opened (block time {call.time})")
    opened = Class(
        body.class_id, call.actor.actor_id, body.organizer_id, body.occupation_code,
        body.edition, body.level, body.city, body.start, body.end, body.planned_seconds,
        call.time, 0,
    )
    state.put(class_key(body.class_id), opened)
    state.put(class_trainees_key(body.class_id), TraineeList(()))
    on_provider_stats(state, call.actor.actor_id, classes=1)
    on_city_stats(state, body.city, classes=1)
    return [Event("enrolment.class_opened", [body.class_id, body.organizer_id, body.city])]


def process_enrol(state: Overlay, call: Call, body: K.Enrol) -> Events:
    opened = get_class(state, body.class_id)
    require(opened.provider_id == call.actor.actor_id, E.NOT_CLASS_PROVIDER,
            f"class {body.class_id!r} belongs to another provider")
    require(call.time < opened.end, E.CLASS_ENDED, f"class {body.class_id!r} has ended")
    pseudonyms = [t.trainee for t in body.trainees]
    require(len(set(pseudonyms)) == len(pseudonyms), E.ALREADY_ENROLLED,
            "a trainee is listed twice")
    for trainee in pseudonyms:
        require(state.get_record(enrolment_key(body.class_id, trainee), Enrolment) is None,
                E.ALREADY_ENROLLED, f"trainee {trainee.hex()[:16]} is enrolled already")
    for t in body.trainees:
        enrolment = Enrolment(body.class_id, t.trainee, t.check_hash, t.check_method, call.time,
                              0, 0, 0, 0, (), None)
        state.put(enrolment_key(body.class_id, t.trainee), enrolment)
    listed = state.get_record(class_trainees_key(body.class_id), TraineeList)
    before = listed.trainees if listed else ()
    state.put(class_trainees_key(body.class_id), TraineeList((*before, *pseudonyms)))
    count = len(pseudonyms)
    state.put(class_key(body.class_id),
              dataclasses.replace(opened, trainee_count=opened.trainee_count + count))
    on_provider_stats(state, opened.provider_id, enrolments=count)
    on_city_stats(state, opened.city, enrolments=count)
    return [Event("enrolment.enrolled", [body.class_id, count])]


def process_attest_category(state: Overlay, call: Call, body: K.AttestCategory) -> Events:
    rules = get_rules_at(state, call.time)
    if rules is None:
        require(body.category in SPECIAL_GROUPS, E.BAD_BODY, category_v1_message())
    else:
        known = (*rules.groups, *rules.special_groups)
        require(body.category in known and body.category != "general", E.UNKNOWN_GROUP,
                f"{body.category!r} is not a group of the policy in force")
    before = get_categories(state, body.trainee)
    attestation = Attestation(body.category, body.evidence_hash, body.valid_from,
                              body.valid_until, call.actor.actor_id, call.time)
    state.put(categories_key(body.trainee), Categories((*before, attestation)))
    return [Event("enrolment.category_attested", [body.trainee, body.category])]
