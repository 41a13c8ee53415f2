"""Registry: actors and keys, the occupation catalogue, policy, funds, validator governance.

Theory of operation. The admin registers, suspends and reinstates providers
and organizers; every actor rotates its own keys. The catalogue and the policy
keep their history: a standard or a policy version applies from its effective
date, so a claim is priced by the version in force on its certificate date.
Validator changes are proposed by the admin or a bureau and approved by
bureaus; at 2f+1 distinct bureau approvals (f of the set in force) the change
is scheduled for ``approval height + params.valset_delay_heights``;
``on_end_block`` folds due changes into ``valset``, the set in force for the
next height, which ``validator_set_at`` reads.

Validators' link addresses live beside the set (``valaddr/<key>``), never in
``Validator`` itself (whose encoding the set's hash and so every header
covers): given in genesis, by ``propose_validator_add`` for a new validator,
and changed by ``set_validator_address``, which the validator's own consensus
key signs. A key rotation is one proposal approved like an add: once scheduled
it is two changes at the same height (remove the old key, add the new one with
the same name and region), folded in one ``on_end_block``, so no height sees
the set grow or shrink; the new key proves possession by signing
``[old_key, new_key]`` (``TAG_KEY_POSSESSION``), and inherits the address.
"""

from __future__ import annotations

import dataclasses

from chain.codec import encode
from chain.types import Event
from chain.validators import Validator, ValidatorSet, faults_tolerated
from contracts import errors as E
from contracts import kinds as K
from contracts.context import BlockContext, Call
from contracts.errors import require, require_found
from contracts.model import (
    HEIGHT_KEY,
    PARAMS_KEY,
    PENDING_KEY,
    POLICY_KEY,
    VALSET_KEY,
    Actor,
    Amount,
    City,
    Fen,
    Fund,
    Height,
    KeyOwner,
    Occupation,
    Params,
    PendingChanges,
    PolicyHistory,
    PolicyVersion,
    Proposal,
    Rotation,
    ScheduledChange,
    StandardVersion,
    ValidatorAddress,
    ValidatorList,
    actor_key,
    city_key,
    fund_key,
    key_owner_key,
    occupation_key,
    proposal_key,
    rotation_key,
    validator_address_key,
)
from contracts.model_v2 import (
    CALENDAR_KEY,
    RULES_KEY,
    Calendar,
    OccupationRef,
    RulesHistory,
    RulesVersion,
    Successions,
    TermsHistory,
    TermsVersion,
    succession_key,
    terms_key,
)
from contracts.state import Overlay

__all__ = [
    "TAG_KEY_POSSESSION",
    "get_calendar",
    "get_occupation",
    "get_occupation_at",
    "get_related_occupations",
    "get_rules",
    "get_rules_at",
    "get_validator_address",
    "get_validators_ahead",
    "get_params",
    "get_policy_at",
    "get_standard_fen",
    "is_city",
    "on_end_block",
    "validator_set_at",
]

Events = list[Event]

TAG_KEY_POSSESSION = b"skillchain/validator-key-possession/v1"
"""Domain tag of a new validator key's signature over ``[old_key, new_key]``."""


# -- reads -----------------------------------------------------------------------------
def is_city(state: Overlay, code: str) -> bool:
    return state.get_record(city_key(code), City) is not None


def is_key_in_use(state: Overlay, public_key: bytes) -> bool:
    return state.get_record(key_owner_key(public_key), KeyOwner) is not None


def get_params(state: Overlay) -> Params:
    params = state.get_record(PARAMS_KEY, Params)
    return require_found(params, E.NO_POLICY, "chain parameters are missing from state")


def get_policy_at(state: Overlay, time_s: int) -> PolicyVersion:
    """The policy version in force at ``time_s`` (latest effective_from <= time)."""
    history = state.get_record(POLICY_KEY, PolicyHistory)
    versions = history.versions if history else ()
    in_force = [v for v in versions if v.effective_from <= time_s]
    require(in_force, E.NO_POLICY, f"no policy in force at {time_s}")
    return in_force[-1]


def get_occupation(state: Overlay, code: str, edition: int, level: int) -> Occupation:
    occupation = state.get_record(occupation_key(code, edition, level), Occupation)
    return require_found(occupation, E.UNKNOWN_OCCUPATION,
                         f"occupation {code} ({edition}) level {level} is not in the catalogue")


def get_rules(state: Overlay) -> RulesHistory | None:
    """The rules-version-2 record, or None on a chain made under version 1."""
    return state.get_record(RULES_KEY, RulesHistory)


def get_rules_at(state: Overlay, time_s: int) -> RulesVersion | None:
    """The v2 policy terms in force at ``time_s``; None under rules version 1."""
    rules = get_rules(state)
    if rules is None:
        return None
    in_force = [v for v in rules.versions if v.effective_from <= time_s]
    require(in_force, E.NO_POLICY, f"no rules in force at {time_s}")
    return in_force[-1]


def get_calendar(state: Overlay) -> Calendar:
    return state.get_record(CALENDAR_KEY, Calendar) or Calendar((), ())


def get_occupation_at(state: Overlay, code: str, edition: int, level: int, time_s: int,
                      v2: bool) -> Occupation:
    """The occupation with the hours, simulation flag and certificate types in force at
    ``time_s`` (rules v2: dated terms; v1: the current record, as before)."""
    occupation = get_occupation(state, code, edition, level)
    if not v2:
        return occupation
    history = state.get_record(terms_key(code, edition, level), TermsHistory)
    if history is None:
        return occupation
    in_force = [t for t in history.versions if t.effective_from <= time_s]
    if not in_force:
        return occupation
    t = in_force[-1]
    return dataclasses.replace(
        occupation, theory_seconds=t.theory_seconds, practical_seconds=t.practical_seconds,
        simulation_allowed=t.simulation_allowed, certificate_types=t.certificate_types)


def get_related_occupations(state: Overlay, occupation: Occupation) -> tuple[OccupationRef, ...]:
    """Occupations the admin declared the same as this one for the once-only rule."""
    found = state.get_record(
        succession_key(occupation.code, occupation.edition, occupation.level), Successions)
    return found.related if found else ()


def require_not_retroactive(call: Call, effective_from: int) -> None:
    """Rules v2: a dated version applies from now on, never to the past."""
    require(effective_from >= call.time, E.EFFECTIVE_IN_PAST,
            f"effective_from {effective_from} is before the block time {call.time}")


def get_standard_fen(occupation: Occupation, certificate_type: str, city: str, date: int) -> Fen:
    """The subsidy standard in force on ``date``, the city's override first."""
    versions = [v for v in occupation.standards if v.effective_from <= date]
    require(versions, E.NO_STANDARD, f"no subsidy standard in force on {date}")
    amounts = {(a.certificate_type, a.city): a.amount_fen for a in versions[-1].amounts}
    found = amounts.get((certificate_type, city), amounts.get((certificate_type, "")))
    return Fen(require_found(found, E.NO_STANDARD, f"no standard for {certificate_type}"))


def get_validator_list(state: Overlay) -> tuple[Validator, ...]:
    current = state.get_record(VALSET_KEY, ValidatorList)
    return current.validators if current else ()


def get_pending(state: Overlay) -> tuple[ScheduledChange, ...]:
    pending = state.get_record(PENDING_KEY, PendingChanges)
    return pending.changes if pending else ()


def get_last_height(state: Overlay) -> int:
    height = state.get_record(HEIGHT_KEY, Height)
    return height.height if height else 0


def compute_applied(
    validators: tuple[Validator, ...], change: ScheduledChange
) -> tuple[Validator, ...]:
    """The set after one scheduled change (a change that no longer applies is a no-op)."""
    others = tuple(v for v in validators if v.public_key != change.validator.public_key)
    if change.op == "add":
        return (*others, change.validator)
    return others if others else validators


def get_validators_ahead(state: Overlay) -> tuple[Validator, ...]:
    """The set once every scheduled change is in force (the set nodes dial ahead)."""
    validators = get_validator_list(state)
    for change in get_pending(state):
        validators = compute_applied(validators, change)
    return validators


def get_validator_address(state: Overlay, public_key: bytes) -> ValidatorAddress | None:
    return state.get_record(validator_address_key(public_key), ValidatorAddress)


def validator_set_at(state: Overlay) -> ValidatorSet:
    """The set in force for the height after the last executed one."""
    next_height = get_last_height(state) + 1
    validators = get_validator_list(state)
    for change in get_pending(state):
        if change.effective_height <= next_height:
            validators = compute_applied(validators, change)
    return ValidatorSet(validators)


def on_end_block(state: Overlay, ctx: BlockContext) -> None:
    """After a block: record its height and fold due validator changes into ``valset``."""
    state.put(HEIGHT_KEY, Height(ctx.height))
    pending = get_pending(state)
    due = [c for c in pending if c.effective_height <= ctx.height + 1]
    if not due:
        return
    validators = get_validator_list(state)
    for change in due:
        validators = compute_applied(validators, change)
    state.put(VALSET_KEY, ValidatorList(tuple(sorted(validators, key=lambda v: v.public_key))))
    state.put(PENDING_KEY, PendingChanges(tuple(c for c in pending if c not in due)))


# -- actors ------------------------------------------------------------------------------
def get_actor(state: Overlay, actor_id: str) -> Actor:
    actor = state.get_record(actor_key(actor_id), Actor)
    return require_found(actor, E.UNKNOWN_ACTOR, f"no actor {actor_id!r}")


def process_register_actor(state: Overlay, call: Call, body: K.RegisterActor) -> Events:
    require(body.role in ("provider", "organizer"), E.BAD_ROLE,
            "the admin registers providers and organizers only")
    require(state.get_record(actor_key(body.actor_id), Actor) is None, E.ACTOR_EXISTS,
            f"actor {body.actor_id!r} exists")
    require(is_city(state, body.region_code), E.UNKNOWN_CITY, f"no city {body.region_code}")
    require(len(set(body.public_keys)) == len(body.public_keys), E.KEY_IN_USE,
            "a key is listed twice")
    for key in body.public_keys:
        require(not is_key_in_use(state, key), E.KEY_IN_USE, f"key {key.hex()[:16]} is in use")
    actor = Actor(body.actor_id, body.role, body.name, body.region_code, True,
                  body.public_keys, call.time)
    state.put(actor_key(actor.actor_id), actor)
    for key in body.public_keys:
        state.put(key_owner_key(key), KeyOwner(actor.actor_id))
    return [Event("registry.actor_registered", [actor.actor_id, actor.role])]


def process_suspend_actor(state: Overlay, call: Call, body: K.SuspendActor) -> Events:
    actor = get_actor(state, body.actor_id)
    require(actor.role in ("provider", "organizer"), E.BAD_ROLE,
            "only providers and organizers are suspended by the admin")
    require(actor.active, E.ALREADY_SUSPENDED, f"actor {actor.actor_id!r} is suspended")
    state.put(actor_key(actor.actor_id), dataclasses.replace(actor, active=False))
    return [Event("registry.actor_suspended", [actor.actor_id, body.reason])]


def process_reinstate_actor(state: Overlay, call: Call, body: K.ReinstateActor) -> Events:
    actor = get_actor(state, body.actor_id)
    require(actor.role in ("provider", "organizer"), E.BAD_ROLE,
            "only providers and organizers are reinstated by the admin")
    require(not actor.active, E.NOT_SUSPENDED, f"actor {actor.actor_id!r} is active")
    state.put(actor_key(actor.actor_id), dataclasses.replace(actor, active=True))
    return [Event("registry.actor_reinstated", [actor.actor_id])]


def process_rotate_key(state: Overlay, call: Call, body: K.RotateKey) -> Events:
    actor = call.actor
    require(body.old_key in actor.public_keys, E.KEY_NOT_OWNED, "old_key is not the sender's")
    require(not is_key_in_use(state, body.new_key), E.KEY_IN_USE, "new_key is in use")
    keys = tuple(body.new_key if k == body.old_key else k for k in actor.public_keys)
    state.put(actor_key(actor.actor_id), dataclasses.replace(actor, public_keys=keys))
    state.delete(key_owner_key(body.old_key))
    state.put(key_owner_key(body.new_key), KeyOwner(actor.actor_id))
    return [Event("registry.key_rotated", [actor.actor_id, body.old_key, body.new_key])]


# -- catalogue, policy, funds ------------------------------------------------------------------
def compute_standard_version(state: Overlay, body: K.PublishOccupation) -> StandardVersion:
    """Checks the amounts of a published occupation and returns them as a version."""
    seen: set[tuple[str, str]] = set()
    for amount in body.amounts:
        ident = (amount.certificate_type, amount.city)
        require(ident not in seen, E.BAD_STANDARD, f"amount {ident} listed twice")
        require(amount.certificate_type in body.certificate_types, E.BAD_STANDARD,
                f"amount for {amount.certificate_type}, which does not end this occupation")
        require(not amount.city or is_city(state, amount.city), E.UNKNOWN_CITY,
                f"override for unknown city {amount.city}")
        seen.add(ident)
    for kind in body.certificate_types:
        require((kind, "") in seen, E.BAD_STANDARD, f"no default standard for {kind}")
    amounts = tuple(sorted(
        (Amount(a.certificate_type, a.city, a.amount_fen) for a in body.amounts),
        key=lambda a: (a.certificate_type, a.city),
    ))
    return StandardVersion(body.effective_from, amounts)


def compute_occupation(
    body: K.PublishOccupation, standards: tuple[StandardVersion, ...]
) -> Occupation:
    return Occupation(
        body.code, body.edition, body.level, body.name, body.theory_seconds,
        body.practical_seconds, body.simulation_allowed, tuple(body.certificate_types), standards,
    )


def process_publish_occupation(state: Overlay, call: Call, body: K.PublishOccupation) -> Events:
    key = occupation_key(body.code, body.edition, body.level)
    require(state.get_record(key, Occupation) is None, E.OCCUPATION_EXISTS,
            f"occupation {body.code} ({body.edition}) level {body.level} exists; update it")
    version = compute_standard_version(state, body)
    state.put(key, compute_occupation(body, (version,)))
    return [Event("registry.occupation_published", [body.code, body.edition, body.level])]


def process_update_occupation(state: Overlay, call: Call, body: K.PublishOccupation) -> Events:
    old = get_occupation(state, body.code, body.edition, body.level)
    require(body.effective_from > old.standards[-1].effective_from, E.NOT_NEWER,
            "a standard version must start after the latest one")
    v2 = get_rules(state) is not None
    if v2:
        require_not_retroactive(call, body.effective_from)
    version = compute_standard_version(state, body)
    key = occupation_key(body.code, body.edition, body.level)
    if not v2:
        state.put(key, compute_occupation(body, (*old.standards, version)))
        return [Event("registry.occupation_updated", [body.code, body.edition, body.level])]
    # v2: hours, simulation flag and types are dated with the standard; the record keeps
    # the terms it was published with (in force before the first dated version).
    tkey = terms_key(body.code, body.edition, body.level)
    history = state.get_record(tkey, TermsHistory)
    terms = TermsVersion(body.effective_from, body.theory_seconds, body.practical_seconds,
                         body.simulation_allowed, tuple(body.certificate_types))
    state.put(tkey, TermsHistory((*(history.versions if history else ()), terms)))
    state.put(key, dataclasses.replace(old, name=body.name, standards=(*old.standards, version)))
    return [Event("registry.occupation_updated", [body.code, body.edition, body.level])]


def process_declare_succession(state: Overlay, call: Call, body: K.DeclareSuccession) -> Events:
    """Rules v2: two catalogue entries (e.g. a 2015 occupation and its 2022 successor) count as
    one for "same occupation at the same level"."""
    a = get_occupation(state, body.code, body.edition, body.level)
    b = get_occupation(state, body.successor_code, body.successor_edition, body.level)
    require((a.code, a.edition) != (b.code, b.edition), E.BAD_STANDARD,
            "an occupation cannot succeed itself")
    for one, other in ((a, b), (b, a)):
        related = get_related_occupations(state, one)
        ref = OccupationRef(other.code, other.edition, other.level)
        if ref not in related:
            state.put(succession_key(one.code, one.edition, one.level),
                      Successions(tuple(sorted((*related, ref)))))
    return [Event("registry.succession_declared",
                  [a.code, a.edition, b.code, b.edition, body.level])]


def process_publish_rules(state: Overlay, call: Call, body: K.PublishRules) -> Events:
    rules = require_found(get_rules(state), E.UNKNOWN_KIND, "sender may not send "
                          "registry.publish_rules")
    require_not_retroactive(call, body.effective_from)
    require(body.effective_from > rules.versions[-1].effective_from, E.NOT_NEWER,
            "a rules version must start after the latest one")
    version = RulesVersion(*(getattr(body, f) for f in RulesVersion._fields))
    state.put(RULES_KEY, RulesHistory(rules.version, (*rules.versions, version)))
    return [Event("registry.rules_published", [body.effective_from])]


def process_set_calendar(state: Overlay, call: Call, body: K.SetCalendar) -> Events:
    state.put(CALENDAR_KEY, Calendar(tuple(sorted(set(body.non_working_days))),
                                     tuple(sorted(set(body.working_days)))))
    return [Event("registry.calendar_set", [len(body.non_working_days), len(body.working_days)])]


def process_publish_policy(state: Overlay, call: Call, body: K.PublishPolicy) -> Events:
    history = state.get_record(POLICY_KEY, PolicyHistory)
    versions = history.versions if history else ()
    require(not versions or body.effective_from > versions[-1].effective_from, E.NOT_NEWER,
            "a policy version must start after the latest one")
    if get_rules(state) is not None:
        require_not_retroactive(call, body.effective_from)
    version = PolicyVersion(*(getattr(body, f) for f in PolicyVersion._fields))
    state.put(POLICY_KEY, PolicyHistory((*versions, version)))
    return [Event("registry.policy_published", [body.effective_from])]


def process_set_fund(state: Overlay, call: Call, body: K.SetFund) -> Events:
    require(is_city(state, body.region_code), E.UNKNOWN_CITY, f"no city {body.region_code}")
    key = fund_key(body.region_code, body.source)
    fund = state.get_record(key, Fund) or Fund(body.region_code, body.source, 0, 0, 0)
    committed = fund.reserved_fen + fund.paid_fen
    require(body.budget_fen >= committed, E.BUDGET_BELOW_COMMITTED,
            f"budget below the {committed} fen already reserved or paid")
    state.put(key, dataclasses.replace(fund, budget_fen=body.budget_fen))
    return [Event("registry.fund_set", [body.region_code, body.source, body.budget_fen])]


def process_set_params(state: Overlay, call: Call, body: K.SetParams) -> Events:
    params = Params(*(getattr(body, f) for f in Params._fields))
    state.put(PARAMS_KEY, params)
    return [Event("registry.params_set", params.to_wire())]


# -- validator governance -------------------------------------------------------------------------
def compute_approvals_needed(validators: tuple[Validator, ...]) -> int:
    """2f+1 of the set in force."""
    return 2 * faults_tolerated(len(validators)) + 1


def process_propose_validator_change(
    state: Overlay, call: Call, body: K.ProposeValidatorChange
) -> Events:
    validators = get_validator_list(state)
    keys = {v.public_key for v in validators}
    pending_keys = {c.validator.public_key for c in get_pending(state)}
    require(is_city(state, body.region_code), E.UNKNOWN_CITY, f"no city {body.region_code}")
    if body.op == "add":
        require(body.public_key not in keys | pending_keys, E.VALIDATOR_EXISTS,
                "the key is a validator or scheduled to become one")
    else:
        require(body.public_key in keys, E.UNKNOWN_VALIDATOR, "the key is not a validator")
        require(len(validators) > 1, E.VALIDATOR_SET_TOO_SMALL, "cannot remove the last validator")
    approvals = (call.actor.actor_id,) if call.actor.role == "bureau" else ()
    validator = Validator(body.public_key, body.name, body.region_code)
    proposal = Proposal(call.tx_hash, body.op, validator, call.sender, call.height, approvals,
                        "open", 0)
    events = [Event("registry.validator_change_proposed", [call.tx_hash, body.op, body.public_key])]
    return events + on_approval(state, call, proposal)


def process_approve_validator_change(
    state: Overlay, call: Call, body: K.ApproveValidatorChange
) -> Events:
    proposal = require_found(state.get_record(proposal_key(body.proposal_id), Proposal),
                             E.UNKNOWN_PROPOSAL, "no such proposal")
    require(proposal.status == "open", E.PROPOSAL_CLOSED, f"proposal is {proposal.status}")
    require(call.actor.actor_id not in proposal.approvals, E.ALREADY_APPROVED,
            "this bureau approved already")
    approvals = tuple(sorted((*proposal.approvals, call.actor.actor_id)))
    updated = dataclasses.replace(proposal, approvals=approvals)
    events = [Event("registry.validator_change_approved", [body.proposal_id, call.actor.actor_id])]
    return events + on_approval(state, call, updated)


def on_approval(state: Overlay, call: Call, proposal: Proposal) -> Events:
    """Store the proposal; schedule it once 2f+1 bureaus approved."""
    needed = compute_approvals_needed(get_validator_list(state))
    if len(proposal.approvals) < needed:
        state.put(proposal_key(proposal.proposal_id), proposal)
        return []
    effective = call.height + get_params(state).valset_delay_heights
    scheduled = dataclasses.replace(proposal, status="scheduled", effective_height=effective)
    changes = compute_scheduled_changes(state, proposal, effective)
    state.put(proposal_key(proposal.proposal_id), scheduled)
    state.put(PENDING_KEY, PendingChanges((*get_pending(state), *changes)))
    return [Event("registry.validator_change_scheduled", [proposal.proposal_id, effective])]


def compute_scheduled_changes(
    state: Overlay, proposal: Proposal, effective: int
) -> tuple[ScheduledChange, ...]:
    """One change for an add or a remove; for a rotation, remove old then add new."""
    pid = proposal.proposal_id
    if proposal.op != "rotate":
        return (ScheduledChange(effective, proposal.op, proposal.validator, pid),)
    rotation = state.get_record(rotation_key(pid), Rotation)
    old = next((v for v in get_validator_list(state)
                if rotation is not None and v.public_key == rotation.old_key), None)
    old = require_found(old, E.UNKNOWN_VALIDATOR, "the rotated key is no longer a validator")
    require(not is_change_pending(state, old.public_key), E.CHANGE_PENDING,
            "another change of this validator was scheduled meanwhile")
    return (ScheduledChange(effective, "remove", old, pid),
            ScheduledChange(effective, "add", proposal.validator, pid))


def is_change_pending(state: Overlay, public_key: bytes) -> bool:
    return any(c.validator.public_key == public_key for c in get_pending(state))


def process_propose_validator_add(
    state: Overlay, call: Call, body: K.ProposeValidatorAdd
) -> Events:
    """An add that carries the new validator's link address (set as it is proposed)."""
    change = K.ProposeValidatorChange("add", body.public_key, body.name, body.region_code)
    events = process_propose_validator_change(state, call, change)
    address = ValidatorAddress(body.host, body.p2p_port)
    state.put(validator_address_key(body.public_key), address)
    return events + [Event("registry.validator_address_set",
                           [body.public_key, body.host, body.p2p_port])]


def process_rotate_validator_key(
    state: Overlay, call: Call, body: K.RotateValidatorKey
) -> Events:
    validators = get_validator_list(state)
    old = next((v for v in validators if v.public_key == body.old_key), None)
    old = require_found(old, E.UNKNOWN_VALIDATOR, "old_key is not a validator")
    pending_keys = {c.validator.public_key for c in get_pending(state)}
    require(body.new_key not in {v.public_key for v in validators} | pending_keys,
            E.VALIDATOR_EXISTS, "new_key is a validator or scheduled to become one")
    require(not is_key_in_use(state, body.new_key), E.KEY_IN_USE, "new_key is an actor's key")
    require(body.old_key not in pending_keys, E.CHANGE_PENDING,
            "a change of this validator is scheduled already")
    require(is_possession_proven(call, body), E.BAD_POSSESSION,
            "possession is not new_key's signature over [old_key, new_key] "
            "(tag skillchain/validator-key-possession/v1)")
    approvals = (call.actor.actor_id,) if call.actor.role == "bureau" else ()
    validator = Validator(body.new_key, old.name, old.region_code)
    proposal = Proposal(call.tx_hash, "rotate", validator, call.sender, call.height, approvals,
                        "open", 0)
    state.put(rotation_key(call.tx_hash), Rotation(body.old_key))
    address = get_validator_address(state, body.old_key)
    if address is not None:
        state.put(validator_address_key(body.new_key), address)
    events = [Event("registry.validator_change_proposed", [call.tx_hash, "rotate", body.new_key])]
    return events + on_approval(state, call, proposal)


def is_possession_proven(call: Call, body: K.RotateValidatorKey) -> bool:
    suite = call.block.suite
    if suite is None or len(body.new_key) != suite.public_key_bytes:
        return False
    payload = encode([body.old_key, body.new_key])
    return suite.verify(body.new_key, TAG_KEY_POSSESSION, call.block.chain_id, payload,
                        body.possession)


def process_set_validator_address(
    state: Overlay, call: Call, body: K.SetValidatorAddress
) -> Events:
    """The sender is a validator key (``permissions.VALIDATOR_ONLY``): its own address."""
    state.put(validator_address_key(call.sender), ValidatorAddress(body.host, body.p2p_port))
    return [Event("registry.validator_address_set", [call.sender, body.host, body.p2p_port])]
