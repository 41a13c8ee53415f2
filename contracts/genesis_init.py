"""Writing genesis into the initial state."""

from __future__ import annotations

from chain.genesis import Genesis
from chain.genesis import Occupation as GenesisOccupation
from contracts.model import (
    HEIGHT_KEY,
    PARAMS_KEY,
    POLICY_KEY,
    VALSET_KEY,
    Actor,
    Amount,
    City,
    Fund,
    Height,
    KeyOwner,
    Occupation,
    Params,
    PolicyHistory,
    PolicyVersion,
    StandardVersion,
    ValidatorAddress,
    ValidatorList,
    actor_key,
    city_key,
    fund_key,
    key_owner_key,
    occupation_key,
    validator_address_key,
)
from contracts.model_v2 import (
    RULES_KEY,
    RulesHistory,
    RulesVersion,
)
from contracts.state import Overlay

__all__ = ["DEFAULT_PARAMS", "init_genesis"]

DEFAULT_PARAMS = Params(
    tx_window_heights=1000,
    valset_delay_heights=2,
    max_session_seconds=12 * 3600,
    min_session_seconds=60,
    shortfall_day_seconds=8 * 3600,
)
"""The defaults of ``chain.genesis.ChainParams`` (a genesis may set others)."""


def init_genesis(state: Overlay, genesis: Genesis, params: Params | None = None) -> None:
    """Write cities, actors and keys, occupations, policy, funds, validators and parameters.

    ``params`` overrides the genesis file's ``params`` section (tests use it).
    """
    if params is None:
        g = genesis.params
        params = Params(g.tx_window_heights, g.valset_delay_heights, g.max_session_seconds,
                        g.min_session_seconds, g.shortfall_day_seconds)
    for code in sorted(genesis.cities):
        state.put(city_key(code), City(code, genesis.cities[code]))
    for actor in genesis.actors:
        keys = tuple(bytes.fromhex(k) for k in actor.public_keys)
        state.put(actor_key(actor.id), Actor(
            actor.id, actor.role, actor.name, actor.region_code, True, keys, genesis.genesis_time))
        for key in keys:
            state.put(key_owner_key(key), KeyOwner(actor.id))
    for occ in genesis.occupations:
        state.put(occupation_key(occ.code, occ.edition, occ.level), compute_occupation(occ))
    p = genesis.policy
    state.put(POLICY_KEY, PolicyHistory((PolicyVersion(
        p.effective_from, p.daily_cap_seconds, p.face_check_interval_seconds,
        p.teaching_hour_seconds, p.simulation_cap_percent, p.yearly_claim_limit,
        p.claim_window_seconds, p.living_allowance_fen_per_day, p.living_allowance_cap_days,
        p.shortfall_fen_per_day, p.shortfall_cap_percent, p.publicity_seconds,
        tuple(p.eligible_groups),
    ),)))
    for fund in genesis.funds:
        state.put(fund_key(fund.region_code, fund.source),
                  Fund(fund.region_code, fund.source, fund.budget_fen, 0, 0))
    state.put(VALSET_KEY, ValidatorList(genesis.validator_set().validators))
    for v in genesis.validators:  # only where genesis gives one: older geneses keep their root
        if v.host is not None and v.p2p_port is not None:
            key = validator_address_key(bytes.fromhex(v.public_key))
            state.put(key, ValidatorAddress(v.host, v.p2p_port))
    state.put(PARAMS_KEY, params)
    state.put(HEIGHT_KEY, Height(0))
    if genesis.params.rules_version >= 2:
        state.put(RULES_KEY, RulesHistory(genesis.params.rules_version, (RulesVersion(
            p.effective_from, p.class_backdate_seconds, p.upload_delay_seconds,
            p.min_study_day_seconds, p.publicity_working_days, tuple(p.subsidy_groups),
            tuple(p.special_groups),
        ),)))


def compute_occupation(occ: GenesisOccupation) -> Occupation:
    """A genesis occupation as a state record; its standards apply from time 0."""
    amounts = [Amount(kind, "", fen) for kind, fen in occ.standards_fen.items()]
    for city, overrides in occ.city_overrides_fen.items():
        amounts.extend(Amount(kind, city, fen) for kind, fen in overrides.items())
    amounts.sort(key=lambda a: (a.certificate_type, a.city))
    return Occupation(
        occ.code, occ.edition, occ.level, occ.name, occ.theory_seconds, occ.practical_seconds,
        occ.simulation_allowed, tuple(occ.certificate_types),
        (StandardVersion(0, tuple(amounts)),),
    )
