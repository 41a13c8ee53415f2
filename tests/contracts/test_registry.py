"""Registry, enrolment, replay protection and validator-set governance."""

from __future__ import annotations

from contracts import validator_set_at
from contracts.model import Actor, PolicyHistory, actor_key
from tests.contracts.helpers import (
    ADMIN,
    BUREAU,
    BUREAU2,
    BUREAU3,
    BUREAU4,
    DAY,
    HOUR,
    PROVIDER,
    PROVIDER2,
    T0,
    Chain,
    enrol_body,
    h,
    open_class_body,
    pub,
    trainee,
    world,
)

OCC_BODY = ["2-02-10-09", 2022, 3, "网络与信息安全管理员", 10 * HOUR, 10 * HOUR, True,
            ["skill_level"], 0, [["skill_level", "", 200_000], ["skill_level", "360100", 210_000]]]
POLICY_BODY = [T0 + DAY, 6 * HOUR, 1200, 2700, 50, 2, 365 * DAY, 3000, 30, 10_000, 60, 5 * DAY,
               ["general"]]


def actor(chain: Chain, ident: str) -> Actor:
    return chain.view().get_record(actor_key(ident), Actor)


# -- replay and envelope ------------------------------------------------------------------
def test_tx_expired_and_expiry_too_far_write_nothing():
    chain = Chain()
    expired = chain.tx(ADMIN, "registry.suspend_actor", ["platform-a", "x"], expires=0)
    receipt = chain.run([expired])[0]
    assert receipt.code == "tx_expired"
    assert set(chain.last_changes) == {b"meta/height"}
    far = chain.tx(ADMIN, "registry.suspend_actor", ["platform-a", "x"],
                   expires=chain.height + 1002)
    assert chain.run([far])[0].code == "expiry_too_far"
    edge = chain.tx(ADMIN, "registry.suspend_actor", ["platform-a", "x"], expires=chain.height + 1)
    assert chain.run([edge])[0].code == ""


def test_replayed_tx_is_rejected_even_in_the_same_block():
    chain = Chain()
    tx = chain.tx(ADMIN, "registry.suspend_actor", ["platform-a", "x"])
    first, second = chain.run([tx, tx])
    assert first.code == "" and second.code == "tx_replayed"
    assert chain.run([tx])[0].code == "tx_replayed"


def test_rejected_tx_keeps_only_its_replay_marker():
    chain = Chain()
    tx = chain.tx(ADMIN, "registry.suspend_actor", ["nobody", "x"])
    receipt = chain.run([tx])[0]
    assert receipt.code == "unknown_actor" and receipt.events[0].kind == "error"
    assert sorted(chain.last_changes) == sorted([b"meta/height",
                                                 b"txseen/" + chain.hash_of(tx).hex().encode()])


def test_unknown_kind_and_bad_body():
    chain = Chain()
    assert chain.send(ADMIN, "registry.nothing", []).code == "unknown_kind"
    assert chain.send(ADMIN, "registry.suspend_actor", ["platform-a"]).code == "bad_body"
    assert chain.send(ADMIN, "registry.suspend_actor", [1, "x"]).code == "bad_body"
    receipt = chain.send(ADMIN, "registry.suspend_actor", ["a/b", "x"])
    assert receipt.code == "bad_body" and "actor_id" in receipt.events[0].data[1]


def test_unknown_sender():
    chain = Chain()
    assert chain.send(99, "registry.suspend_actor", ["platform-a", "x"]).code == "unknown_sender"


# -- actors ---------------------------------------------------------------------------------
def test_register_suspend_reinstate():
    chain = Chain()
    body = ["platform-c", "provider", "平台C", "360100", [pub(40)]]
    assert chain.send(ADMIN, "registry.register_actor", body).code == ""
    assert chain.send(ADMIN, "registry.register_actor", body).code == "actor_exists"
    assert chain.send(40, "enrolment.open_class", open_class_body("pc")).code == ""
    assert chain.send(ADMIN, "registry.suspend_actor", ["platform-c", "audit"]).code == ""
    assert chain.send(ADMIN, "registry.suspend_actor", ["platform-c", "audit"]).code == (
        "already_suspended")
    assert chain.send(40, "enrolment.open_class", open_class_body("pd")).code == "actor_suspended"
    assert chain.send(ADMIN, "registry.reinstate_actor", ["platform-c"]).code == ""
    assert chain.send(ADMIN, "registry.reinstate_actor", ["platform-c"]).code == "not_suspended"
    assert chain.send(40, "enrolment.open_class", open_class_body("pd")).code == ""


def test_register_rules():
    chain = Chain()
    assert chain.send(ADMIN, "registry.register_actor",
                      ["b9", "bureau", "x", "360100", [pub(41)]]).code == "bad_role"
    assert chain.send(ADMIN, "registry.register_actor",
                      ["p9", "provider", "x", "999999", [pub(41)]]).code == "unknown_city"
    assert chain.send(ADMIN, "registry.register_actor",
                      ["p9", "provider", "x", "360100", [pub(PROVIDER)]]).code == "key_in_use"
    assert chain.send(ADMIN, "registry.suspend_actor", ["bureau-nc", "x"]).code == "bad_role"


def test_key_rotation():
    chain = Chain()
    assert chain.send(PROVIDER, "registry.rotate_key", [pub(ADMIN), pub(50)]).code == (
        "key_not_owned")
    assert chain.send(PROVIDER, "registry.rotate_key", [pub(PROVIDER), pub(PROVIDER2)]).code == (
        "key_in_use")
    assert chain.send(PROVIDER, "registry.rotate_key", [pub(PROVIDER), pub(50)]).code == ""
    assert actor(chain, "platform-a").public_keys == (pub(50),)
    assert chain.send(PROVIDER, "enrolment.open_class", open_class_body()).code == "unknown_sender"
    assert chain.send(50, "enrolment.open_class", open_class_body()).code == ""


# -- catalogue, policy, funds ----------------------------------------------------------------
def test_publish_and_update_occupation():
    chain = Chain()
    assert chain.send(ADMIN, "registry.publish_occupation", OCC_BODY).code == ""
    assert chain.send(ADMIN, "registry.publish_occupation", OCC_BODY).code == "occupation_exists"
    stale = [*OCC_BODY[:8], 0, OCC_BODY[9]]
    assert chain.send(ADMIN, "registry.update_occupation", stale).code == "not_newer"
    newer = [*OCC_BODY[:8], T0 + DAY, OCC_BODY[9]]
    assert chain.send(ADMIN, "registry.update_occupation", newer).code == ""
    missing = [*OCC_BODY[:3], *OCC_BODY[3:8], 0, OCC_BODY[9]]
    missing[0] = "2-02-10-10"
    assert chain.send(ADMIN, "registry.update_occupation", missing).code == "unknown_occupation"


def test_occupation_standard_rules():
    chain = Chain()
    no_default = [*OCC_BODY[:9], [["skill_level", "360100", 1]]]
    assert chain.send(ADMIN, "registry.publish_occupation", no_default).code == "bad_standard"
    twice = [*OCC_BODY[:9], [["skill_level", "", 1], ["skill_level", "", 2]]]
    assert chain.send(ADMIN, "registry.publish_occupation", twice).code == "bad_standard"
    foreign = [*OCC_BODY[:9], [["skill_level", "", 1], ["special_ability", "", 2]]]
    assert chain.send(ADMIN, "registry.publish_occupation", foreign).code == "bad_standard"
    city = [*OCC_BODY[:9], [["skill_level", "", 1], ["skill_level", "999999", 2]]]
    assert chain.send(ADMIN, "registry.publish_occupation", city).code == "unknown_city"
    assert chain.send(ADMIN, "registry.publish_occupation", [*OCC_BODY[:2], 6, *OCC_BODY[3:]]
                      ).code == "bad_body"


def test_policy_versions_by_date():
    chain = Chain()
    assert chain.send(ADMIN, "registry.publish_policy", POLICY_BODY).code == ""
    assert chain.send(ADMIN, "registry.publish_policy", POLICY_BODY).code == "not_newer"
    history = chain.view().get_record(b"policy", PolicyHistory)
    assert [v.effective_from for v in history.versions] == [0, T0 + DAY]
    bad = list(POLICY_BODY)
    bad[4] = 101
    assert chain.send(ADMIN, "registry.publish_policy", bad).code == "bad_body"


def test_funds():
    chain = Chain()
    assert chain.send(ADMIN, "registry.set_fund", ["360300", "employment_subsidy", 5]).code == ""
    assert chain.send(ADMIN, "registry.set_fund", ["999999", "employment_subsidy", 5]).code == (
        "unknown_city")
    assert chain.send(ADMIN, "registry.set_fund", ["360300", "gift", 5]).code == "bad_body"


# -- enrolment ------------------------------------------------------------------------------------
def test_open_class_rules():
    chain = Chain()
    assert chain.send(PROVIDER, "enrolment.open_class", open_class_body()).code == ""
    assert chain.send(PROVIDER, "enrolment.open_class", open_class_body()).code == "class_exists"
    assert chain.send(PROVIDER, "enrolment.open_class",
                      open_class_body("x", organizer="platform-b")).code == "not_organizer"
    assert chain.send(PROVIDER, "enrolment.open_class",
                      open_class_body("x", occ=("1-01-01-01", 2015, 5))).code == (
        "unknown_occupation")
    assert chain.send(PROVIDER, "enrolment.open_class",
                      open_class_body("x", city="999999")).code == "unknown_city"
    assert chain.send(PROVIDER, "enrolment.open_class",
                      open_class_body("x", start=T0 - 9 * DAY, end=T0 - DAY)).code == "bad_period"
    assert chain.send(PROVIDER, "enrolment.open_class",
                      open_class_body("x", start=T0 + DAY, end=T0)).code == "bad_body"


def test_enrol_rules():
    chain = Chain()
    chain.send(PROVIDER, "enrolment.open_class", open_class_body(end=T0 + 10 * DAY))
    assert chain.send(PROVIDER2, "enrolment.enrol", enrol_body("c1", [1])).code == (
        "not_class_provider")
    assert chain.send(PROVIDER, "enrolment.enrol", enrol_body("zz", [1])).code == "unknown_class"
    assert chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", [1, 1])).code == (
        "already_enrolled")
    assert chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", [1, 2])).code == ""
    assert chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", [3, 2])).code == (
        "already_enrolled")
    chain.run([], advance_s=11 * DAY)
    assert chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", [4])).code == "class_ended"


def test_attest_category_rules():
    chain = world()
    good = [trainee(1), "poor_rural_labourer", h("e"), T0, T0 + DAY]
    assert chain.send(BUREAU, "enrolment.attest_category", good).code == ""
    bad = [trainee(1), "astronaut", h("e"), T0, T0 + DAY]
    assert chain.send(BUREAU, "enrolment.attest_category", bad).code == "bad_body"
    backwards = [trainee(1), "poor_rural_labourer", h("e"), T0 + DAY, T0]
    assert chain.send(BUREAU, "enrolment.attest_category", backwards).code == "bad_body"


# -- validator governance ------------------------------------------------------------
def test_validator_add_needs_2f_plus_1_bureaus_and_takes_effect_after_the_delay():
    chain = Chain()  # 4 validators: f = 1, approvals needed = 3
    propose = chain.tx(BUREAU, "registry.propose_validator_change",
                       ["add", pub(60), "v-new", "360200"])
    assert chain.run([propose])[0].code == ""
    pid = chain.hash_of(propose)
    assert chain.send(BUREAU, "registry.approve_validator_change", [pid]).code == "already_approved"
    assert chain.send(BUREAU2, "registry.approve_validator_change", [pid]).code == ""
    assert len(validator_set_at(chain.view())) == 4
    receipt = chain.send(BUREAU3, "registry.approve_validator_change", [pid])
    scheduled_at = chain.height
    assert receipt.events[-1].kind == "registry.validator_change_scheduled"
    assert receipt.events[-1].data[1] == scheduled_at + 2
    assert pub(60) not in validator_set_at(chain.view())  # in force for scheduled_at + 1
    chain.run([])
    assert pub(60) in validator_set_at(chain.view())      # in force for scheduled_at + 2
    assert chain.height + 1 == scheduled_at + 2
    assert chain.send(BUREAU4, "registry.approve_validator_change", [pid]).code == (
        "proposal_closed")


def test_validator_governance_rules():
    chain = Chain()
    assert chain.send(ADMIN, "registry.propose_validator_change",
                      ["add", pub(1), "dup", "360100"]).code == "validator_exists"
    assert chain.send(ADMIN, "registry.propose_validator_change",
                      ["remove", pub(61), "x", "360100"]).code == "unknown_validator"
    assert chain.send(ADMIN, "registry.propose_validator_change",
                      ["add", pub(61), "x", "999999"]).code == "unknown_city"
    assert chain.send(BUREAU, "registry.approve_validator_change", [h("none")]).code == (
        "unknown_proposal")
    propose = chain.tx(ADMIN, "registry.propose_validator_change",
                       ["remove", pub(1), "v0", "360100"])
    chain.run([propose])
    pid = chain.hash_of(propose)
    for bureau in (BUREAU, BUREAU2, BUREAU3):
        assert chain.send(bureau, "registry.approve_validator_change", [pid]).code == ""
    chain.run([])
    assert pub(1) not in validator_set_at(chain.view())
    assert len(validator_set_at(chain.view())) == 3


def test_fund_budget_cannot_drop_below_committed_money():
    from tests.contracts.test_settlement import certify, complete_hours, file

    chain = world()
    complete_hours(chain, 1)
    assert file(chain, 1, certify(chain, 1))[0].code == ""  # reserves 1,200 yuan
    assert chain.send(ADMIN, "registry.set_fund",
                      ["360100", "unemployment_insurance", 119_999]).code == (
        "budget_below_committed")
    assert chain.send(ADMIN, "registry.set_fund",
                      ["360100", "unemployment_insurance", 120_000]).code == ""


def test_no_policy_in_force_yet():
    chain = world(effective_from=T0 + 1000 * DAY)
    from tests.contracts.helpers import session, sessions_body

    receipt = chain.send(PROVIDER, "learning.record_sessions",
                         sessions_body(session("s1", 1, T0 + 2 * DAY, HOUR)))
    assert receipt.code == "no_policy"


def test_no_standard_in_force_on_the_certificate_date():
    from contracts.errors import ContractError
    from contracts.registry import get_occupation, get_standard_fen

    chain = Chain()
    late = [*OCC_BODY[:8], T0 + 100 * DAY, OCC_BODY[9]]
    assert chain.send(ADMIN, "registry.publish_occupation", late).code == ""
    occupation = get_occupation(chain.view(), "2-02-10-09", 2022, 3)
    assert get_standard_fen(occupation, "skill_level", "360100", T0 + 100 * DAY) == 210_000
    assert get_standard_fen(occupation, "skill_level", "360200", T0 + 100 * DAY) == 200_000
    try:
        get_standard_fen(occupation, "skill_level", "360100", T0)
    except ContractError as exc:
        assert exc.code == "no_standard"
    else:
        raise AssertionError("expected no_standard")


def test_cannot_remove_the_last_validator():
    from chain.genesis import Genesis
    from tests.contracts.helpers import genesis_doc

    doc = genesis_doc()
    doc["validators"] = doc["validators"][:1]
    chain = Chain(genesis=Genesis.model_validate(doc))
    body = ["remove", pub(1), "v0", "360100"]
    assert chain.send(BUREAU, "registry.propose_validator_change", body).code == (
        "validator_set_too_small")
    add = chain.tx(BUREAU, "registry.propose_validator_change", ["add", pub(62), "v1", "360200"])
    receipt = chain.run([add])[0]  # one validator: f = 0, the proposing bureau suffices
    assert receipt.events[-1].kind == "registry.validator_change_scheduled"


def test_set_params_changes_the_replay_window():
    chain = Chain()
    assert chain.send(ADMIN, "registry.set_params", [10, 3, 6 * HOUR, 60, 8 * HOUR]).code == ""
    far = chain.tx(ADMIN, "registry.suspend_actor", ["platform-a", "x"],
                   expires=chain.height + 12)
    assert chain.run([far])[0].code == "expiry_too_far"
    zero = chain.tx(ADMIN, "registry.set_params", [10, 0, 6 * HOUR, 60, 8 * HOUR],
                    expires=chain.height + 5)
    assert chain.run([zero])[0].code == "bad_body"


def test_mempool_check_tx():
    from contracts import check_tx

    chain = Chain()
    ok = chain.tx(ADMIN, "registry.suspend_actor", ["platform-a", "x"])
    admitted = check_tx(chain.base, ok, chain.hash_of(ok), chain.height + 1)
    assert admitted.ok and admitted.body is not None and admitted.body.actor_id == "platform-a"
    bad = chain.tx(ADMIN, "registry.suspend_actor", ["platform-a"])
    assert check_tx(chain.base, bad, chain.hash_of(bad), chain.height + 1).code == "bad_body"
    rude = chain.tx(PROVIDER, "registry.suspend_actor", ["platform-b", "x"])
    assert check_tx(chain.base, rude, chain.hash_of(rude), chain.height + 1).code == (
        "not_permitted")
    chain.run([ok])
    assert check_tx(chain.base, ok, chain.hash_of(ok), chain.height + 1).code == "tx_replayed"
    old = chain.tx(ADMIN, "registry.reinstate_actor", ["platform-a"], expires=chain.height)
    assert check_tx(chain.base, old, chain.hash_of(old), chain.height + 1).code == "tx_expired"
