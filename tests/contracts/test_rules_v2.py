"""Issue 16: the holes in the subsidy rules, closed under rules version 2.

Each test runs a finding on a rules-v2 chain (genesis ``params.rules_version`` 2),
where it is refused or priced right, and where it matters also on a v1 chain (no
``rules_version``), which must keep the old outcome: blocks made under v1 replay
under v1 (the saved vectors pin the v1 state byte for byte).
"""

from __future__ import annotations

from typing import Any

from chain.types import Receipt
from contracts.model import day_of
from contracts.settlement import compute_publicity_end, is_working_day
from tests.contracts.helpers import (
    ADMIN,
    BUREAU,
    DAY,
    HOUR,
    OCC,
    ORGANIZER,
    PROVIDER,
    STANDARD_FEN,
    T0,
    Chain,
    certificate_body,
    codes_of,
    enrol_body,
    h,
    make_genesis,
    offline_body,
    open_class_body,
    session,
    sessions_body,
    trainee,
    world,
    world2,
)

D1 = T0 + DAY          # a day after the v2 world's enrolment (T0 + 120 s)
CST_MIDNIGHT = (day_of(T0) + 1) * DAY - 8 * HOUR   # the first CST midnight after T0
LIVING_FEN = 3_000     # helpers' living_allowance_fen_per_day


def record(chain: Chain, *items: list) -> list[str]:
    return codes_of(chain.send(PROVIDER, "learning.record_sessions", sessions_body(*items)))


def attest(chain: Chain, n: int, valid_from: int, valid_until: int,
           group: str = "poor_rural_labourer") -> Receipt:
    return chain.send(BUREAU, "enrolment.attest_category",
                      [trainee(n), group, h(f"ev-{n}-{group}"), valid_from, valid_until])


def certify_and_file(chain: Chain, n: int, label: str = "c") -> tuple[Receipt, bytes]:
    assert chain.send(BUREAU, "learning.issue_certificate",
                      certificate_body(f"{label}{n}", n, date=chain.time)).code == ""
    tx = chain.tx(ORGANIZER, "settlement.file_claim",
                  [trainee(n), "c1", h(f"cert-{label}{n}"), "unemployment_insurance"])
    return chain.run([tx])[0], chain.hash_of(tx)


def filed(receipt: Receipt) -> list[Any]:
    """[claim id, training fen, living fen, complete] of a settlement.claim_filed receipt."""
    assert receipt.code == "", receipt
    return receipt.events[0].data


def complete_hours(chain: Chain, n: int, start: int = D1) -> None:
    """4 h theory on one day and 4 h offline practice the next (OCC's requirement)."""
    assert record(chain, session(f"t{n}", n, start, 4 * HOUR)) == [""]
    off = offline_body(f"o{n}", n, start + DAY, 4 * HOUR)
    assert chain.send(BUREAU, "learning.record_offline_practice", off).code == ""


# -- 1. evidence back-filled before enrolment ----------------------------------------------------
def test_sessions_and_offline_practice_before_the_enrolment_are_refused():
    chain = world2()
    before = session("early", 1, T0 + 60, HOUR)  # the class runs from T0; enrolment at T0+120
    assert record(chain, before, session("ok", 1, D1, HOUR)) == ["before_enrolment", ""]
    off = offline_body("o-early", 2, T0 + 60, HOUR)
    assert chain.send(BUREAU, "learning.record_offline_practice", off).code == "before_enrolment"


def test_v1_still_credits_a_back_filled_session():
    chain = Chain()
    chain.send(PROVIDER, "enrolment.open_class", open_class_body())
    chain.run([], advance_s=10 * DAY)
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", [1]))
    assert record(chain, session("early", 1, T0 + DAY, HOUR)) == [""]


def test_uploads_are_bounded_in_time_and_classes_in_back_dating():
    chain = world2()
    chain.run([], advance_s=7 * DAY)  # upload_delay_seconds defaults to 7 days
    assert record(chain, session("late", 1, D1, HOUR)) == ["upload_too_late"]
    assert record(chain, session("recent", 1, chain.time - 2 * DAY, HOUR)) == [""]
    old = open_class_body("c-old", start=chain.time - 8 * DAY, end=chain.time + 30 * DAY)
    assert chain.send(PROVIDER, "enrolment.open_class", old).code == "class_backdated"
    fresh = open_class_body("c-new", start=chain.time - 6 * DAY, end=chain.time + 30 * DAY)
    assert chain.send(PROVIDER, "enrolment.open_class", fresh).code == ""


# -- 2. a one-minute session buys a living-allowance day ------------------------------------------
def special_world() -> Chain:
    chain = world2()
    assert attest(chain, 1, T0, T0 + 365 * DAY).code == ""
    chain.run([], advance_s=5 * DAY)
    return chain


def test_a_one_minute_session_is_no_allowance_day():
    chain = special_world()
    complete_hours(chain, 1)
    minutes = [session(f"m{k}", 1, D1 + (2 + k) * DAY, 60) for k in range(4)]
    assert record(chain, *minutes) == [""] * 4
    receipt, _ = certify_and_file(chain, 1)
    _, training, living, complete = filed(receipt)
    assert (training, complete) == (STANDARD_FEN, True)
    assert living == 2 * LIVING_FEN  # the 4 h days only; v1 paid 6 days


def test_v1_pays_an_allowance_day_per_minute_session():
    chain = world(trainees=(1,))
    assert attest(chain, 1, T0, T0 + 365 * DAY).code == ""
    assert record(chain, *[session(f"m{k}", 1, T0 + (2 + k) * DAY, 60) for k in range(3)]) == [
        ""] * 3
    off = offline_body("o1", 1, T0 + 6 * DAY, 4 * HOUR)
    assert chain.send(BUREAU, "learning.record_offline_practice", off).code == ""
    assert record(chain, session("t1", 1, T0 + 7 * DAY, 4 * HOUR)) == [""]
    receipt, _ = certify_and_file(chain, 1)
    assert filed(receipt)[2] == 5 * LIVING_FEN


# -- 6. special-group status read over the training days -------------------------------------------
def test_status_valid_over_the_training_days_pays_the_allowance():
    chain = world2()
    assert attest(chain, 1, T0, D1 + 2 * DAY).code == ""  # ends before the certificate
    chain.run([], advance_s=5 * DAY)
    complete_hours(chain, 1)
    receipt, _ = certify_and_file(chain, 1)
    assert filed(receipt)[2] == 2 * LIVING_FEN  # v1 read it on the certificate date: 0


def test_status_outside_the_training_days_pays_nothing():
    chain = world2()
    assert attest(chain, 1, D1 + 3 * DAY, D1 + 90 * DAY).code == ""  # from after the training
    chain.run([], advance_s=5 * DAY)
    complete_hours(chain, 1)
    receipt, _ = certify_and_file(chain, 1)
    assert filed(receipt)[2] == 0


# -- 3. a future-dated catalogue update changes money now -----------------------------------------
def occupation_update(effective_from: int, theory_s: int) -> list:
    return [OCC[0], OCC[1], OCC[2], "电子商务师", theory_s, 4 * HOUR, True, ["skill_level"],
            effective_from, [["skill_level", "", 200_000]]]


def test_a_future_catalogue_update_leaves_todays_claim_alone():
    chain = special_world()
    complete_hours(chain, 1)
    update = occupation_update(chain.time + 180 * DAY, 8 * HOUR)
    assert chain.send(ADMIN, "registry.update_occupation", update).code == ""
    receipt, _ = certify_and_file(chain, 1)
    _, training, _, complete = filed(receipt)
    assert (training, complete) == (STANDARD_FEN, True)


def test_v1_reads_the_future_hours_today():
    chain = world(trainees=(1,))
    assert record(chain, session("t1", 1, T0 + 2 * DAY, 4 * HOUR)) == [""]
    off = offline_body("o1", 1, T0 + 3 * DAY, 4 * HOUR)
    assert chain.send(BUREAU, "learning.record_offline_practice", off).code == ""
    update = occupation_update(chain.time + 180 * DAY, 8 * HOUR)
    assert chain.send(ADMIN, "registry.update_occupation", update).code == ""
    receipt, _ = certify_and_file(chain, 1)
    assert filed(receipt)[3] is False  # the shortfall amount, as the finding showed


def test_the_new_terms_apply_from_their_date():
    chain = special_world()
    update = occupation_update(chain.time + 60, 8 * HOUR)  # in force from the next block
    assert chain.send(ADMIN, "registry.update_occupation", update).code == ""
    complete_hours(chain, 1)
    receipt, _ = certify_and_file(chain, 1)
    _, training, _, complete = filed(receipt)
    assert complete is False and training < 200_000


# -- 4. retroactive policy ------------------------------------------------------------------------
def policy_body(effective_from: int, publicity_s: int = 5 * DAY) -> list:
    return [effective_from, 8 * HOUR, 1800, 2700, 50, 2, 365 * DAY, LIVING_FEN, 30, 10_000, 60,
            publicity_s, ["general"]]


def test_versions_dated_before_the_block_time_are_refused():
    chain = world2()
    yesterday = chain.time - DAY
    assert chain.send(ADMIN, "registry.publish_policy", policy_body(yesterday)).code == (
        "effective_in_past")
    assert chain.send(ADMIN, "registry.update_occupation",
                      occupation_update(yesterday, 4 * HOUR)).code == "effective_in_past"
    rules = [yesterday, 7 * DAY, 7 * DAY, 3 * HOUR, 5, ["general"], []]
    assert chain.send(ADMIN, "registry.publish_rules", rules).code == "effective_in_past"
    v1 = world()
    assert v1.send(ADMIN, "registry.publish_policy", policy_body(v1.time - DAY)).code == ""


# -- 5. publicity period fixed when listed, in working days ---------------------------------------
def listed_claim(chain: Chain) -> tuple[bytes, int]:
    complete_hours(chain, 1)
    receipt, claim_id = certify_and_file(chain, 1)
    filed(receipt)
    assert chain.send(BUREAU, "settlement.approve_claim", [claim_id]).code == ""
    listing = chain.send(BUREAU, "settlement.publicise_claim", [claim_id])
    assert listing.code == ""
    return claim_id, listing.events[0].data[2]


def test_shortening_the_period_after_listing_does_not_pay_early():
    chain = world2(publicity_working_days=5)
    chain.run([], advance_s=5 * DAY)
    claim_id, until = listed_claim(chain)
    listed_day = day_of(chain.time)
    assert until - chain.time > 5 * DAY  # five working days after the listing day
    assert day_of(until - 1) - listed_day >= 7 and is_working_day(day_of(until - 1), frozenset(),
                                                                  frozenset())
    short = [chain.time + 60, 7 * DAY, 7 * DAY, 3 * HOUR, 0, ["general"], []]
    assert chain.send(ADMIN, "registry.publish_rules", short).code == ""
    assert chain.send(ADMIN, "registry.publish_policy", policy_body(chain.time + 60, 60)).code == ""
    pay = [claim_id, h("pay")]
    assert chain.send(BUREAU, "settlement.pay_claim", pay, advance_s=11 * 60).code == (
        "publicity_not_over")
    assert chain.send(BUREAU, "settlement.pay_claim", pay, advance_s=until - chain.time).code == ""


def test_v1_pays_after_the_period_is_shortened():
    chain = world(trainees=(1,), publicity_seconds=7 * DAY)
    assert record(chain, session("t1", 1, T0 + 2 * DAY, 4 * HOUR)) == [""]
    off = offline_body("o1", 1, T0 + 3 * DAY, 4 * HOUR)
    assert chain.send(BUREAU, "learning.record_offline_practice", off).code == ""
    receipt, claim_id = certify_and_file(chain, 1)
    chain.send(BUREAU, "settlement.approve_claim", [claim_id])
    chain.send(BUREAU, "settlement.publicise_claim", [claim_id])
    assert chain.send(ADMIN, "registry.publish_policy", policy_body(chain.time + 60, 60)).code == ""
    assert chain.send(BUREAU, "settlement.pay_claim", [claim_id, h("pay")],
                      advance_s=11 * 60).code == ""


def test_working_days_skip_weekends_and_listed_holidays():
    friday = day_of(T0) + 2            # T0 is Wednesday 2023-11-15 CST
    assert [is_working_day(friday + k, frozenset(), frozenset()) for k in range(4)] == [
        True, False, False, True]
    noon = friday * DAY - 8 * HOUR + 12 * HOUR
    end_of = lambda day: (day + 1) * DAY - 8 * HOUR  # noqa: E731 - 24:00 CST of a day
    assert compute_publicity_end(noon, 5, 0, frozenset(), frozenset()) == end_of(friday + 7)
    holiday = frozenset({friday + 3})  # the Monday after
    assert compute_publicity_end(noon, 5, 0, holiday, frozenset()) == end_of(friday + 10)
    worked_saturday = frozenset({friday + 1})
    assert compute_publicity_end(noon, 5, 0, frozenset(), worked_saturday) == end_of(friday + 6)
    assert compute_publicity_end(noon, 0, 3600, holiday, frozenset()) == noon + 3600


def test_the_admin_calendar_moves_the_end_of_a_listing():
    chain = world2(publicity_working_days=1)
    chain.run([], advance_s=5 * DAY)
    listed_day = day_of(chain.time) + 2  # the listing happens a few blocks later, same day
    following = [d for d in range(listed_day - 2, listed_day + 10)]
    assert chain.send(ADMIN, "registry.set_calendar", [following, []]).code == ""
    _, until = listed_claim(chain)
    assert day_of(until - 1) > max(following)
    assert Chain().send(ADMIN, "registry.set_calendar", [[], []]).code == "unknown_kind"


# -- 7. daily cap across midnight; offline records bounded ----------------------------------------
def test_the_daily_cap_counts_each_day_a_session_touches():
    chain = world2()
    evening = CST_MIDNIGHT - 4 * HOUR                      # 20:00-04:00 CST
    assert record(chain, session("night", 1, evening, 8 * HOUR)) == [""]
    receipt = chain.send(PROVIDER, "learning.record_sessions",
                         sessions_body(session("morning", 1, CST_MIDNIGHT + 4 * HOUR, 8 * HOUR)))
    assert receipt.events[0].data[2] == 4 * HOUR          # the next day already holds 4 h
    correction = ["night", "clock_error", h("note")]
    assert chain.send(PROVIDER, "learning.correct_session", correction).code == ""
    again = session("morning-2", 1, CST_MIDNIGHT + 12 * HOUR, 6 * HOUR)
    assert chain.send(PROVIDER, "learning.record_sessions",
                      sessions_body(again)).events[0].data[2] == 4 * HOUR  # 4 h + 4 h


def test_v1_counts_a_night_session_on_its_first_day_only():
    chain = world(trainees=(1,))
    midnight = CST_MIDNIGHT + 2 * DAY
    assert record(chain, session("night", 1, midnight - 4 * HOUR, 8 * HOUR)) == [""]
    receipt = chain.send(PROVIDER, "learning.record_sessions",
                         sessions_body(session("morning", 1, midnight + 4 * HOUR, 8 * HOUR)))
    assert receipt.events[0].data[2] == 8 * HOUR


def test_an_offline_record_is_bounded_like_a_session():
    chain = world2()
    chain.run([], advance_s=DAY)
    off = offline_body("o30", 1, D1, 30 * HOUR)
    assert chain.send(BUREAU, "learning.record_offline_practice", off).code == "offline_too_long"
    v1 = world(trainees=(1,))
    off = offline_body("o30", 1, T0 + 2 * DAY, 30 * HOUR)
    assert v1.send(BUREAU, "learning.record_offline_practice", off).code == ""


# -- 11. groups as a table in state; succession across editions -----------------------------------
def test_groups_are_a_policy_table():
    groups = ["general", "registered_unemployed", "rural_migrant_worker", "poor_rural_labourer"]
    chain = world2(groups=groups, special_groups=["poor_rural_labourer", "registered_unemployed"])
    assert attest(chain, 1, T0, T0 + 365 * DAY, "rural_migrant_worker").code == ""
    assert attest(chain, 1, T0, T0 + 365 * DAY, "astronaut").code == "unknown_group"
    assert attest(world(), 1, T0, T0 + DAY, "rural_migrant_worker").code == "bad_body"


def test_a_declared_successor_counts_for_the_once_only_rule():
    chain = special_world()
    new_code = [OCC[0], 2022, OCC[2], "电子商务师 (2022)", 4 * HOUR, 4 * HOUR, True,
                ["skill_level"], chain.time, [["skill_level", "", STANDARD_FEN]]]
    assert chain.send(ADMIN, "registry.publish_occupation", new_code).code == ""
    declare = [OCC[0], OCC[1], OCC[0], 2022, OCC[2]]
    assert chain.send(ADMIN, "registry.declare_succession", declare).code == ""
    complete_hours(chain, 1)
    receipt, _ = certify_and_file(chain, 1)
    filed(receipt)
    c2 = open_class_body("c2", occ=(OCC[0], 2022, OCC[2]), start=chain.time - DAY,
                         end=chain.time + 60 * DAY)
    assert chain.send(PROVIDER, "enrolment.open_class", c2).code == ""
    assert chain.send(PROVIDER, "enrolment.enrol", enrol_body("c2", [1])).code == ""
    complete_day = chain.time + 60
    chain.run([], advance_s=3 * DAY)
    assert record(chain, session("t1-2022", 1, complete_day, 4 * HOUR, class_id="c2")) == [""]
    cert = [h("cert-2022"), trainee(1), "skill_level", OCC[0], 2022, OCC[2], chain.time]
    assert chain.send(BUREAU, "learning.issue_certificate", cert).code == ""
    tx = chain.tx(ORGANIZER, "settlement.file_claim",
                  [trainee(1), "c2", h("cert-2022"), "unemployment_insurance"])
    assert chain.run([tx])[0].code == "already_subsidised"


def test_genesis_without_rules_version_is_v1():
    assert make_genesis().params.rules_version == 1
    assert make_genesis(rules_version=2).params.rules_version == 2


# -- 8. reads: the policy in force and the public listing -----------------------------------------
def test_policy_and_publicity_queries():
    from contracts.queries import query_policy, query_publicity

    chain = world2(publicity_working_days=5)
    chain.run([], advance_s=5 * DAY)
    claim_id, until = listed_claim(chain)
    answer, keys = query_publicity(chain.view(), "360100")
    assert [c["claim_id"] for c in answer["claims"]] == [claim_id.hex()]
    assert answer["claims"][0]["until"] == until and answer["claims"][0]["training_fen"] > 0
    assert keys and query_publicity(chain.view(), "360200")[0]["claims"] == []
    policy, _ = query_policy(chain.view(), chain.time)
    assert policy["rules_version"] == 2
    assert policy["rules_in_force"]["publicity_working_days"] == 5
    assert query_policy(world().view(), T0)[0]["rules_version"] == 1
    chain.send(BUREAU, "settlement.pay_claim", [claim_id, h("pay")], advance_s=until - chain.time)
    assert query_publicity(chain.view(), "360100")[0]["claims"] == []
