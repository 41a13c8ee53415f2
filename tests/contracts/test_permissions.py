"""The permission table, checked for every (role, kind) pair, and the public surface."""

from __future__ import annotations

from pathlib import Path

import pytest

import contracts
from contracts import KINDS, PERMISSIONS, Overlay, check_permission
from contracts import errors as E
from contracts.kinds import BODIES, V2_KINDS
from tests.contracts.helpers import ADMIN, BUREAU, ORGANIZER, PROVIDER, Chain, make_genesis

ROLE_KEYS = {"admin": ADMIN, "bureau": BUREAU, "provider": PROVIDER, "organizer": ORGANIZER}
EXPECTED = {
    "admin": {"registry.register_actor", "registry.suspend_actor", "registry.reinstate_actor",
              "registry.rotate_key", "registry.publish_occupation",
              "registry.update_occupation", "registry.publish_policy", "registry.set_fund",
              "registry.set_params", "registry.publish_rules", "registry.set_calendar",
              "registry.declare_succession",
              "registry.propose_validator_change", "registry.propose_validator_add",
              "registry.rotate_validator_key"},
    "bureau": {"registry.rotate_key", "registry.propose_validator_change",
               "registry.propose_validator_add", "registry.rotate_validator_key",
               "registry.approve_validator_change", "enrolment.attest_category",
               "learning.record_offline_practice", "learning.record_exam",
               "learning.issue_certificate", "settlement.approve_claim",
               "settlement.reject_claim", "settlement.publicise_claim",
               "settlement.object_claim", "settlement.pay_claim", "settlement.revoke_claim"},
    "provider": {"registry.rotate_key", "enrolment.open_class", "enrolment.enrol",
                 "learning.record_sessions", "learning.correct_session",
                 "learning.record_assessment"},
    "organizer": {"registry.rotate_key", "settlement.file_claim"},
}
VALIDATOR_KINDS = {"registry.set_validator_address"}  # signed by consensus keys, no actor's
CHAIN = Chain()
CHAIN2 = Chain(genesis=make_genesis(rules_version=2))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", sorted(ROLE_KEYS))
def test_every_role_and_kind(role: str, kind: str) -> None:
    tx = CHAIN.tx(ROLE_KEYS[role], kind, [])
    got = check_permission(Overlay(CHAIN.base), tx)
    refusal = E.NOT_A_VALIDATOR if kind in VALIDATOR_KINDS else E.NOT_PERMITTED
    assert got == (None if kind in EXPECTED[role] else refusal)
    if got is not None:  # the executor enforces the same table
        v1 = E.UNKNOWN_KIND if kind in V2_KINDS else refusal  # v1: never existed
        assert Chain().send(ROLE_KEYS[role], kind, []).code == v1
        assert CHAIN2.send(ROLE_KEYS[role], kind, []).code == refusal


def test_unknown_kind_sender_and_suspended() -> None:
    chain = Chain()
    assert check_permission(chain.view(), chain.tx(ADMIN, "x.y", [])) == E.UNKNOWN_KIND
    assert check_permission(chain.view(), chain.tx(77, "enrolment.enrol", [])) == E.UNKNOWN_SENDER
    chain.send(ADMIN, "registry.suspend_actor", ["platform-a", "audit"])
    tx = chain.tx(PROVIDER, "enrolment.enrol", [])
    assert check_permission(chain.view(), tx) == E.ACTOR_SUSPENDED


def test_table_covers_every_kind_and_kinds_are_documented() -> None:
    assert set(PERMISSIONS) == set(BODIES) == set(KINDS)
    doc = contracts.kinds.__doc__ or ""
    for kind in KINDS:
        assert kind in doc, kind


def test_exported_names() -> None:
    assert sorted(contracts.__all__) == sorted([
        "ALL_CODES", "BODIES", "DEFAULT_PARAMS", "KINDS", "PERMISSIONS", "BlockContext",
        "ContractError", "DictState", "Overlay", "StateReader", "TAG_KEY_POSSESSION", "TxCheck",
        "check_expiry", "check_permission", "check_tx", "execute_block", "execute_tx",
        "expiry_bounds", "get_params", "get_validator_address", "get_validators_ahead",
        "init_genesis", "parse_body", "query_city_stats",
        "query_claim", "query_class", "query_progress", "query_provider_stats", "require",
        "validator_set_at",
    ])
    for name in contracts.__all__:
        assert hasattr(contracts, name)


def test_error_codes_are_stable_snake_case() -> None:
    assert len(E.ALL_CODES) > 60
    for code in E.ALL_CODES:
        assert code == code.lower() and " " not in code


def test_modules_stay_small() -> None:
    for path in Path(contracts.__file__).parent.glob("*.py"):
        assert len(path.read_text().splitlines()) < 600, path.name


def test_require_raises_contract_error_with_code() -> None:
    with pytest.raises(E.ContractError) as info:
        E.require(False, E.NOT_PERMITTED, "no")
    assert info.value.code == "not_permitted" and info.value.message == "no"
    E.require(True, E.NOT_PERMITTED, "fine")


def test_every_error_code_is_exercised_by_some_test() -> None:
    here = Path(__file__).resolve().parent
    text = "".join(p.read_text() for p in here.glob("test_*.py") if p.name != Path(__file__).name)
    text += "".join(p.read_text() for p in (here.parent / "vectors" / "contracts").glob("*.json"))
    missing = sorted(code for code in E.ALL_CODES if f'"{code}"' not in text)
    assert missing == []
