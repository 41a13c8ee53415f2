"""Subsidy settlement: eligibility, amounts, funds and the claim's state machine."""

from __future__ import annotations

from contracts import query_city_stats, query_claim, query_progress
from contracts.model import Fund, fund_key
from tests.contracts.helpers import (
    BUREAU,
    BUREAU2,
    CITY,
    CITY2,
    DAY,
    HOUR,
    ORGANIZER,
    ORGANIZER2,
    OVERRIDE_FEN,
    PROVIDER,
    STANDARD_FEN,
    T0,
    Chain,
    certificate_body,
    enrol_body,
    h,
    make_genesis,
    offline_body,
    open_class_body,
    session,
    sessions_body,
    trainee,
    world,
)

D1 = T0 + 2 * DAY
CERT_DATE = T0 + 20 * DAY


def complete_hours(chain: Chain, n: int, class_id: str = "c1", theory_only: bool = False,
                   bureau: int = BUREAU):
    """4 h theory + 2 h simulation + 2 h offline over three days (OCC's requirement)."""
    items = [session(f"t{n}-1", n, D1, 2 * HOUR, class_id=class_id),
             session(f"t{n}-2", n, D1 + DAY, 2 * HOUR, class_id=class_id)]
    if not theory_only:
        items.append(session(f"t{n}-3", n, D1 + DAY + 3 * HOUR, 2 * HOUR, class_id=class_id,
                             mode="simulation"))
    receipt = chain.send(PROVIDER, "learning.record_sessions", sessions_body(*items))
    assert all(e.kind == "learning.session_credited" for e in receipt.events), receipt
    if not theory_only:
        off = offline_body(f"o{n}", n, D1 + 2 * DAY, 2 * HOUR, class_id=class_id)
        assert chain.send(bureau, "learning.record_offline_practice", off).code == ""


def certify(chain: Chain, n: int, label: str | None = None, **kw) -> bytes:
    label = label or f"c{n}"
    kw.setdefault("date", chain.time)
    body = certificate_body(label, n, **kw)
    assert chain.send(BUREAU, "learning.issue_certificate", body).code == ""
    return h(f"cert-{label}")


def file(chain: Chain, n: int, cert: bytes, source="unemployment_insurance", class_id="c1",
         sender=ORGANIZER):
    tx = chain.tx(sender, "settlement.file_claim", [trainee(n), class_id, cert, source])
    return chain.run([tx])[0], chain.hash_of(tx)


def ready(n: int = 1, **policy) -> tuple[Chain, bytes]:
    chain = world(**policy)
    complete_hours(chain, n)
    return chain, certify(chain, n)


def settle(chain: Chain, claim_id: bytes, officer: int = BUREAU) -> list[str]:
    codes = [chain.send(officer, "settlement.approve_claim", [claim_id]).code,
             chain.send(officer, "settlement.publicise_claim", [claim_id]).code]
    codes.append(chain.send(officer, "settlement.pay_claim", [claim_id, h("pay")],
                            advance_s=5 * DAY).code)
    return codes


def fund(chain: Chain, source: str, city: str = CITY) -> Fund:
    return chain.view().get_record(fund_key(city, source), Fund)


def test_full_claim_is_paid_at_the_standard():
    chain, cert = ready()
    receipt, claim_id = file(chain, 1, cert)
    assert receipt.code == "" and receipt.events[0].data[1:] == [STANDARD_FEN, 0, True]
    assert fund(chain, "unemployment_insurance").reserved_fen == STANDARD_FEN
    assert settle(chain, claim_id) == ["", "", ""]
    after = fund(chain, "unemployment_insurance")
    assert (after.reserved_fen, after.paid_fen) == (0, STANDARD_FEN)
    claim = query_claim(chain.view(), claim_id)[0]
    assert [s["state"] for s in claim["history"]] == ["filed", "approved", "publicised", "paid"]
    assert claim["history"][1]["officer"] != claim["history"][0]["officer"]
    stats = query_city_stats(chain.view(), CITY)[0]
    assert stats["claims_paid"] == 1 and stats["paid_fen"] == STANDARD_FEN
    assert query_progress(chain.view(), "c1", trainee(1))[0]["claim_state"] == "paid"


def test_only_the_class_organizer_files():
    chain, cert = ready()
    assert file(chain, 1, cert, sender=ORGANIZER2)[0].code == "not_class_organizer"


def test_not_enrolled_and_unknown_certificate():
    chain, cert = ready()
    assert file(chain, 5, cert)[0].code == "not_enrolled"
    assert file(chain, 1, h("no such certificate"))[0].code == "unknown_certificate"


def test_certificate_must_match_trainee_and_occupation():
    chain, _ = ready()
    complete_hours(chain, 2)
    other = certify(chain, 1, "x1", occ=("6-18-01-01", 2015, 4))
    assert file(chain, 1, other)[0].code == "certificate_mismatch"
    someone_else = certify(chain, 2, "x2")
    assert file(chain, 1, someone_else)[0].code == "certificate_mismatch"


def test_certificate_before_enrolment():
    chain = world()
    complete_hours(chain, 1)
    early = certify(chain, 1, date=T0)  # enrolment happened at T0 + 2 minutes
    assert file(chain, 1, early)[0].code == "certificate_before_enrolment"


def test_one_certificate_one_claim_and_one_open_claim_per_enrolment():
    chain, cert = ready()
    assert file(chain, 1, cert)[0].code == ""
    assert file(chain, 1, cert)[0].code == "claim_in_progress"
    chain.send(PROVIDER, "enrolment.open_class", open_class_body("c2", start=T0))
    tx = chain.tx(PROVIDER, "enrolment.enrol", enrol_body("c2", [1]))
    chain.run([tx])
    assert file(chain, 1, cert, class_id="c2")[0].code == "certificate_before_enrolment"


def test_hours_shortfall_pays_per_day_capped():
    chain = world()
    complete_hours(chain, 1, theory_only=True)  # 4 h credited: 0 eight-hour days
    cert = certify(chain, 1)
    assert file(chain, 1, cert)[0].code == "hours_insufficient"
    chain2 = world(shortfall_fen_per_day=100_000)
    items = [session(f"s{d}", 1, D1 + d * DAY, 8 * HOUR) for d in range(3)]
    chain2.send(PROVIDER, "learning.record_sessions", sessions_body(*items))
    cert2 = certify(chain2, 1)  # 24 h theory, no practice: short
    receipt, _ = file(chain2, 1, cert2)
    # 3 days x 1000 yuan = 3000 yuan, capped at 60% of 1200 yuan = 720 yuan
    assert receipt.code == "" and receipt.events[0].data[1:] == [72_000, 0, False]


def test_shortfall_below_cap():
    chain = world()
    items = [session(f"s{d}", 1, D1 + d * DAY, 8 * HOUR) for d in range(3)]
    chain.send(PROVIDER, "learning.record_sessions", sessions_body(*items))
    receipt, _ = file(chain, 1, certify(chain, 1))
    assert receipt.events[0].data[1:] == [30_000, 0, False]  # 3 days x 100 yuan


def test_city_override_and_standard_in_force_on_certificate_date():
    chain = world()
    chain.send(PROVIDER, "enrolment.open_class",
               open_class_body("j1", organizer="org-b", city=CITY2))
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("j1", [1, 2]))
    complete_hours(chain, 1, class_id="j1", bureau=BUREAU2)
    complete_hours(chain, 2, class_id="j1", bureau=BUREAU2)
    new_from = chain.time + 10 * DAY
    update = ["4-03-02-01", 2015, 5, "电子商务师", 4 * HOUR, 4 * HOUR, True, ["skill_level"],
              new_from, [["skill_level", "", 200_000]]]
    assert chain.send(10, "registry.update_occupation", update).code == ""
    old = certify(chain, 1, date=chain.time)  # before new_from: old standard, city override
    receipt, _ = file(chain, 1, old, class_id="j1", sender=ORGANIZER2)
    assert receipt.code == "" and receipt.events[0].data[1] == OVERRIDE_FEN
    chain.run([], advance_s=11 * DAY)
    new = certify(chain, 2, date=chain.time)  # the new version has no override
    receipt, _ = file(chain, 2, new, class_id="j1", sender=ORGANIZER2)
    assert receipt.code == "" and receipt.events[0].data[1] == 200_000


def test_eligible_groups_and_living_allowance():
    groups = ["unemployed_with_difficulty"]
    chain, cert = ready(eligible_groups=groups)
    assert file(chain, 1, cert)[0].code == "not_eligible_group"
    attest = [trainee(1), "unemployed_with_difficulty", h("ev"), T0, T0 + 365 * DAY]
    assert chain.send(BUREAU, "enrolment.attest_category", attest).code == ""
    receipt, claim_id = file(chain, 1, cert)
    # three study days x 30 yuan from the employment subsidy fund
    assert receipt.code == "" and receipt.events[0].data[1:] == [STANDARD_FEN, 9_000, True]
    assert fund(chain, "employment_subsidy").reserved_fen == 9_000
    assert settle(chain, claim_id) == ["", "", ""]
    assert fund(chain, "employment_subsidy").paid_fen == 9_000


def test_expired_attestation_does_not_count():
    chain, cert = ready(eligible_groups=["poor_rural_labourer"])
    chain.send(BUREAU, "enrolment.attest_category",
               [trainee(1), "poor_rural_labourer", h("ev"), T0, T0 + DAY])
    assert file(chain, 1, cert)[0].code == "not_eligible_group"


def test_already_subsidised_anywhere_for_same_occupation_and_level():
    chain, cert = ready()
    _, claim_id = file(chain, 1, cert)
    settle(chain, claim_id)
    chain.send(PROVIDER, "enrolment.open_class", open_class_body("c2"))
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("c2", [1]))
    cert2 = certify(chain, 1, "again", date=chain.time + 30)
    assert file(chain, 1, cert2, class_id="c2")[0].code == "already_subsidised"


def test_rejected_claim_frees_person_and_fund():
    chain, cert = ready()
    _, claim_id = file(chain, 1, cert)
    assert chain.send(BUREAU, "settlement.reject_claim", [claim_id, "hours_doubtful"]).code == ""
    assert fund(chain, "unemployment_insurance").reserved_fen == 0
    receipt, _ = file(chain, 1, cert)
    assert receipt.code == ""


def test_yearly_limit():
    chain = world(yearly_claim_limit=1)
    for n, occ_class in ((1, "c1"),):
        complete_hours(chain, n, class_id=occ_class)
    _, claim_id = file(chain, 1, certify(chain, 1))
    chain.send(PROVIDER, "enrolment.open_class",
               open_class_body("k1", occ=("6-18-01-01", 2015, 4)))
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("k1", [1]))
    items = [session("k-1", 1, D1 + 5 * DAY, 2 * HOUR, class_id="k1")]
    chain.send(PROVIDER, "learning.record_sessions", sessions_body(*items))
    chain.send(BUREAU, "learning.record_offline_practice",
               offline_body("ok1", 1, D1 + 6 * DAY, 2 * HOUR, class_id="k1"))
    cert = certify(chain, 1, "k", occ=("6-18-01-01", 2015, 4), kind="special_operations")
    assert file(chain, 1, cert, class_id="k1")[0].code == "yearly_limit_reached"


def test_fund_exhausted():
    chain = Chain(genesis=make_genesis(budget_fen=STANDARD_FEN + 1))
    chain.send(PROVIDER, "enrolment.open_class", open_class_body())
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", [1, 2]))
    chain.run([], advance_s=30 * DAY)
    for n in (1, 2):
        complete_hours(chain, n)
    assert file(chain, 1, certify(chain, 1))[0].code == ""
    assert file(chain, 2, certify(chain, 2))[0].code == "fund_exhausted"
    assert file(chain, 2, h("cert-c2"), source="employment_subsidy")[0].code == ""


def test_claim_window():
    chain, cert = ready(claim_window_seconds=20 * DAY)
    chain.run([], advance_s=20 * DAY)
    assert file(chain, 1, cert)[0].code == "claim_window_closed"


def test_only_the_city_bureau_acts_and_transitions_are_ordered():
    chain, cert = ready()
    _, claim_id = file(chain, 1, cert)
    assert chain.send(BUREAU2, "settlement.approve_claim", [claim_id]).code == "not_city_bureau"
    assert chain.send(BUREAU, "settlement.publicise_claim", [claim_id]).code == "bad_claim_state"
    assert chain.send(BUREAU, "settlement.pay_claim", [claim_id, h("p")]).code == "bad_claim_state"
    assert chain.send(BUREAU, "settlement.approve_claim", [h("nope")]).code == "unknown_claim"
    assert chain.send(BUREAU, "settlement.revoke_claim", [claim_id, "fraud", 1]).code == (
        "bad_claim_state")
    assert chain.send(BUREAU, "settlement.approve_claim", [claim_id]).code == ""
    assert chain.send(BUREAU, "settlement.publicise_claim", [claim_id]).code == ""
    assert chain.send(BUREAU, "settlement.pay_claim", [claim_id, h("p")]).code == (
        "publicity_not_over")


def test_objection_during_publicity_sends_back_to_review():
    chain, cert = ready()
    _, claim_id = file(chain, 1, cert)
    chain.send(BUREAU, "settlement.approve_claim", [claim_id])
    chain.send(BUREAU, "settlement.publicise_claim", [claim_id])
    assert chain.send(BUREAU, "settlement.object_claim", [claim_id, h("letter")]).code == ""
    assert query_claim(chain.view(), claim_id)[0]["state"] == "filed"
    assert settle(chain, claim_id) == ["", "", ""]


def test_objection_after_publicity_is_refused():
    chain, cert = ready()
    _, claim_id = file(chain, 1, cert)
    chain.send(BUREAU, "settlement.approve_claim", [claim_id])
    chain.send(BUREAU, "settlement.publicise_claim", [claim_id])
    chain.run([], advance_s=6 * DAY)
    receipt = chain.send(BUREAU, "settlement.object_claim", [claim_id, h("l")])
    assert receipt.code == "publicity_over"


def test_revoke_paid_claim_records_recovery():
    chain, cert = ready()
    _, claim_id = file(chain, 1, cert)
    settle(chain, claim_id)
    assert chain.send(BUREAU, "settlement.revoke_claim",
                      [claim_id, "fraud_found", STANDARD_FEN + 1]).code == "bad_recovery_amount"
    assert chain.send(BUREAU, "settlement.revoke_claim",
                      [claim_id, "fraud_found", STANDARD_FEN]).code == ""
    claim = query_claim(chain.view(), claim_id)[0]
    assert claim["state"] == "revoked" and claim["recover_fen"] == STANDARD_FEN
    assert query_city_stats(chain.view(), CITY)[0]["recover_fen"] == STANDARD_FEN
    assert file(chain, 1, cert)[0].code == "claim_in_progress"


def test_corrections_blocked_while_claim_open():
    chain, cert = ready()
    file(chain, 1, cert)
    receipt = chain.send(PROVIDER, "learning.correct_session", ["t1-1", "other", h("n")])
    assert receipt.code == "claim_in_progress"


def test_certificate_used_by_a_claim_in_another_class():
    chain = world()
    chain.send(PROVIDER, "enrolment.open_class", open_class_body("c2"))
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("c2", [1]))
    complete_hours(chain, 1)
    cert = certify(chain, 1)
    assert file(chain, 1, cert)[0].code == ""
    assert file(chain, 1, cert, class_id="c2")[0].code == "certificate_used"


def test_unknown_fund():
    chain = world()
    chain.send(PROVIDER, "enrolment.open_class", open_class_body("p1", city="360300"))
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("p1", [1]))
    items = [session(f"s{d}", 1, D1 + d * DAY, 8 * HOUR, class_id="p1") for d in range(2)]
    chain.send(PROVIDER, "learning.record_sessions", sessions_body(*items))
    assert file(chain, 1, certify(chain, 1), class_id="p1")[0].code == "unknown_fund"


def test_class_statistics_follow_claims_and_corrections():
    from contracts import query_class

    chain, cert = ready()
    _, claim_id = file(chain, 1, cert)
    settle(chain, claim_id)
    stats = query_class(chain.view(), "c1")[0]["stats"]
    assert (stats["claims_filed"], stats["claims_paid"], stats["paid_fen"]) == (
        1, 1, STANDARD_FEN)
    assert stats["sessions_credited"] == 3 and stats["credited_seconds"] == 6 * HOUR
