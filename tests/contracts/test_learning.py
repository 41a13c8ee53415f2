"""Learning evidence: every rule credited once and broken once, with its exact code."""

from __future__ import annotations

import pytest

from contracts import query_progress, query_provider_stats
from contracts.learning import compute_face_checked_seconds
from tests.contracts.helpers import (
    BUREAU,
    BUREAU2,
    DAY,
    HOUR,
    OCC_NOSIM,
    PROVIDER,
    PROVIDER2,
    T0,
    certificate_body,
    codes_of,
    enrol_body,
    h,
    offline_body,
    open_class_body,
    session,
    sessions_body,
    trainee,
    world,
)

D1 = T0 + 2 * DAY  # 2023-11-17 06:13 CST, inside the class period and in the past


def record(chain, *items, sender=PROVIDER):
    return chain.send(sender, "learning.record_sessions", sessions_body(*items))


def progress(chain, n=1, class_id="c1"):
    return query_progress(chain.view(), class_id, trainee(n))[0]


def test_a_session_is_credited_with_its_evidence():
    chain = world()
    receipt = record(chain, session("s1", 1, D1, HOUR))
    assert receipt.code == "" and codes_of(receipt) == [""]
    assert receipt.events[0].data == ["s1", "theory", HOUR]
    result = progress(chain)
    assert result["theory_seconds"] == HOUR
    assert [s["session_id"] for s in result["sessions"]] == ["s1"]
    assert result["sessions"][0]["log_hash"] == h("log-s1").hex()


def test_duplicate_session_id_per_provider():
    chain = world()
    record(chain, session("s1", 1, D1, HOUR))
    receipt = record(chain, session("s1", 1, D1 + 2 * HOUR, HOUR))
    assert codes_of(receipt) == ["duplicate_session"]


def test_same_session_id_from_another_provider_is_its_own():
    chain = world()
    chain.send(PROVIDER2, "enrolment.open_class", open_class_body("c2"))
    chain.send(PROVIDER2, "enrolment.enrol", enrol_body("c2", [1]))
    record(chain, session("s1", 1, D1, HOUR))
    receipt = record(chain, session("s1", 1, D1 + 2 * HOUR, HOUR, class_id="c2"), sender=PROVIDER2)
    assert codes_of(receipt) == [""]


def test_not_enrolled():
    chain = world()
    assert codes_of(record(chain, session("s1", 9, D1, HOUR))) == ["not_enrolled"]


def test_class_of_another_provider():
    chain = world()
    chain.send(PROVIDER2, "enrolment.open_class", open_class_body("c2"))
    chain.send(PROVIDER2, "enrolment.enrol", enrol_body("c2", [1]))
    receipt = record(chain, session("s1", 1, D1, HOUR, class_id="c2"))
    assert codes_of(receipt) == ["not_class_provider"]


def test_outside_class_period():
    chain = world()
    receipt = record(chain, session("s1", 1, T0 - 2 * HOUR, HOUR))
    assert codes_of(receipt) == ["outside_class_period"]
    late = record(chain, session("s2", 1, T0 + 120 * DAY - 1800, HOUR))
    assert codes_of(late) == ["outside_class_period"]
    assert codes_of(record(chain, session("s3", 1, T0, HOUR))) == [""]


def test_session_in_future():
    chain = world()
    receipt = record(chain, session("s1", 1, chain.time, HOUR))
    assert codes_of(receipt) == ["session_in_future"]
    ok = record(chain, session("s2", 1, chain.time - HOUR, HOUR))
    assert codes_of(ok) == [""]


def test_session_too_short():
    chain = world()
    receipt = record(chain, session("s1", 1, D1, 59))
    assert codes_of(receipt) == ["session_too_short"]
    assert codes_of(record(chain, session("s2", 1, D1, 60))) == [""]


def test_session_too_long():
    chain = world(daily_cap_seconds=24 * HOUR)
    receipt = record(chain, session("s1", 1, D1, 13 * HOUR))
    assert codes_of(receipt) == ["session_too_long"]
    assert codes_of(record(chain, session("s2", 1, D1, 12 * HOUR))) == [""]


@pytest.mark.parametrize("offset", [0, -HOUR + 1, HOUR - 1, -30 * 60, 30 * 60])
def test_overlap_within_one_provider(offset):
    chain = world()
    record(chain, session("s1", 1, D1, HOUR))
    receipt = record(chain, session("s2", 1, D1 + offset, HOUR))
    assert codes_of(receipt) == ["session_overlap"]


@pytest.mark.parametrize("offset", [HOUR, -HOUR])
def test_adjacent_sessions_do_not_overlap(offset):
    chain = world()
    record(chain, session("s1", 1, D1, HOUR))
    assert codes_of(record(chain, session("s2", 1, D1 + offset, HOUR))) == [""]


def test_overlap_across_providers():
    chain = world()
    chain.send(PROVIDER2, "enrolment.open_class", open_class_body("c2"))
    chain.send(PROVIDER2, "enrolment.enrol", enrol_body("c2", [1]))
    record(chain, session("a1", 1, D1, HOUR))
    receipt = record(chain, session("b1", 1, D1 + 600, HOUR, class_id="c2"), sender=PROVIDER2)
    assert codes_of(receipt) == ["session_overlap"]
    assert "sess/platform-a/a1" in receipt.events[0].data[2]


def test_overlap_across_midnight():
    chain = world(daily_cap_seconds=24 * HOUR)
    midnight = (D1 // DAY + 1) * DAY - 8 * HOUR  # a CST midnight
    record(chain, session("s1", 1, midnight - HOUR, 2 * HOUR))
    receipt = record(chain, session("s2", 1, midnight + 1800, HOUR))
    assert codes_of(receipt) == ["session_overlap"]


def test_overlap_inside_one_batch_rejects_only_the_second():
    chain = world()
    receipt = record(chain, session("s1", 1, D1, HOUR), session("s2", 1, D1 + 10, HOUR),
                     session("s3", 2, D1, HOUR))
    assert codes_of(receipt) == ["", "session_overlap", ""]
    assert progress(chain, 2)["theory_seconds"] == HOUR


def test_daily_cap_partial_then_rejected():
    chain = world(daily_cap_seconds=3 * HOUR)
    record(chain, session("s1", 1, D1, 2 * HOUR))
    receipt = record(chain, session("s2", 1, D1 + 2 * HOUR, 2 * HOUR))
    assert receipt.events[0].data == ["s2", "theory", HOUR]
    receipt = record(chain, session("s3", 1, D1 + 4 * HOUR, HOUR))
    assert codes_of(receipt) == ["daily_cap_exceeded"]
    assert progress(chain)["theory_seconds"] == 3 * HOUR


def test_daily_cap_is_per_day():
    chain = world(daily_cap_seconds=2 * HOUR)
    record(chain, session("s1", 1, D1, 2 * HOUR))
    assert codes_of(record(chain, session("s2", 1, D1 + DAY, 2 * HOUR))) == [""]


def test_face_checks_rules():
    assert compute_face_checked_seconds(0, 3600, [0, 1800, 3600], 1800) == 3600
    assert compute_face_checked_seconds(0, 3600, [0, 1800], 1800) == 3600
    assert compute_face_checked_seconds(0, 3600, [0, 1000], 1800) == 1000
    assert compute_face_checked_seconds(0, 3600, [], 1800) == 0
    assert compute_face_checked_seconds(0, 3600, [1900, 2000], 1800) == 0
    assert compute_face_checked_seconds(0, 7200, [0, 1800, 4000, 5000], 1800) == 1800
    assert compute_face_checked_seconds(0, 600, [0], 1800) == 600


def test_face_check_gap_credits_up_to_last_passed_check():
    chain = world()
    captures = [[D1, h("a"), True], [D1 + 1800, h("b"), True], [D1 + 2400, h("c"), False]]
    receipt = record(chain, session("s1", 1, D1, 2 * HOUR, captures=captures))
    assert receipt.events[0].data == ["s1", "theory", 1800]
    stats = query_provider_stats(chain.view(), "platform-a")[0]
    assert stats["failed_face_checks"] == 1


def test_no_face_check():
    chain = world()
    failed = [[D1, h("a"), False]]
    assert codes_of(record(chain, session("s1", 1, D1, HOUR, captures=failed))) == [
        "no_face_check"]


def test_active_seconds_bound_the_credit():
    chain = world()
    receipt = record(chain, session("s1", 1, D1, HOUR, active=1000))
    assert receipt.events[0].data == ["s1", "theory", 1000]


def test_simulation_credits_practical_up_to_half():
    chain = world()  # practical requirement 4 h, cap 50% = 2 h
    receipt = record(chain, session("s1", 1, D1, 90 * 60, mode="simulation"),
                     session("s2", 1, D1 + 2 * HOUR, HOUR, mode="simulation"),
                     session("s3", 1, D1 + 4 * HOUR, HOUR, mode="simulation"))
    assert [e.data for e in receipt.events][:2] == [
        ["s1", "simulation", 5400], ["s2", "simulation", 1800]]
    assert codes_of(receipt)[2] == "simulation_cap_exceeded"
    result = progress(chain)
    assert result["simulation_seconds"] == 2 * HOUR and result["theory_seconds"] == 0


def test_simulation_not_allowed_for_occupation():
    chain = world()
    chain.send(PROVIDER, "enrolment.open_class", open_class_body("c9", occ=OCC_NOSIM))
    chain.send(PROVIDER, "enrolment.enrol", enrol_body("c9", [1]))
    receipt = record(chain, session("s1", 1, D1, HOUR, class_id="c9", mode="simulation"))
    assert codes_of(receipt) == ["simulation_not_allowed"]
    assert codes_of(record(chain, session("s2", 1, D1, HOUR, class_id="c9"))) == [""]


def test_all_sessions_rejected_is_still_an_accepted_batch_with_reasons():
    chain = world()
    receipt = record(chain, session("s1", 9, D1, HOUR))
    assert receipt.status == 0 and codes_of(receipt) == ["not_enrolled"]
    assert query_provider_stats(chain.view(), "platform-a")[0]["sessions_rejected"] == 1


def test_correction_voids_credit_and_frees_the_interval():
    chain = world()
    record(chain, session("s1", 1, D1, HOUR))
    receipt = chain.send(PROVIDER, "learning.correct_session", ["s1", "clock_error", h("n")])
    assert receipt.code == ""
    result = progress(chain)
    assert result["theory_seconds"] == 0 and result["sessions"][0]["status"] == "voided"
    assert result["study_days"] == 0
    assert codes_of(record(chain, session("s1b", 1, D1, HOUR))) == [""]


def test_correction_rules():
    chain = world()
    assert chain.send(PROVIDER, "learning.correct_session",
                      ["nope", "other", h("n")]).code == "unknown_session"
    record(chain, session("s1", 1, D1, HOUR))
    assert chain.send(PROVIDER2, "learning.correct_session",
                      ["s1", "other", h("n")]).code == "unknown_session"
    chain.send(PROVIDER, "learning.correct_session", ["s1", "other", h("n")])
    assert chain.send(PROVIDER, "learning.correct_session",
                      ["s1", "other", h("n")]).code == "session_already_corrected"
    assert chain.send(PROVIDER, "learning.correct_session",
                      ["s1", "because", h("n")]).code == "bad_body"


def test_assessment_rules():
    chain = world()
    body = ["a1", trainee(1), "c1", "unit-1", 80, 100, True, D1, h("ev")]
    assert chain.send(PROVIDER, "learning.record_assessment", body).code == ""
    assert chain.send(PROVIDER, "learning.record_assessment", body).code == "duplicate_record"
    late = ["a2", trainee(1), "c1", "unit-1", 80, 100, True, chain.time + 999, h("ev")]
    assert chain.send(PROVIDER, "learning.record_assessment", late).code == "session_in_future"
    other = ["a3", trainee(9), "c1", "unit-1", 80, 100, True, D1, h("ev")]
    assert chain.send(PROVIDER, "learning.record_assessment", other).code == "not_enrolled"
    assert progress(chain)["assessments"][0]["score"] == 80


def test_offline_practice_rules():
    chain = world()
    assert chain.send(BUREAU2, "learning.record_offline_practice",
                      offline_body("o1", 1, D1, HOUR)).code == "not_city_bureau"
    assert chain.send(BUREAU, "learning.record_offline_practice",
                      offline_body("o1", 1, D1, HOUR)).code == ""
    assert chain.send(BUREAU, "learning.record_offline_practice",
                      offline_body("o1", 1, D1 + 2 * HOUR, HOUR)).code == "duplicate_record"
    assert chain.send(BUREAU, "learning.record_offline_practice",
                      offline_body("o2", 1, D1 + 1800, HOUR)).code == "session_overlap"
    assert codes_of(record(chain, session("s1", 1, D1 + 10, HOUR))) == ["session_overlap"]
    assert progress(chain)["offline_seconds"] == HOUR


def test_exam_rules():
    chain = world()
    body = ["e1", trainee(1), "c1", "practical", 75, 100, True, D1, h("ex")]
    assert chain.send(BUREAU2, "learning.record_exam", body).code == "not_city_bureau"
    assert chain.send(BUREAU, "learning.record_exam", body).code == ""
    assert chain.send(BUREAU, "learning.record_exam", body).code == "duplicate_record"
    future = ["e2", trainee(1), "c1", "theory", 75, 100, True, chain.time + 999, h("ex")]
    assert chain.send(BUREAU, "learning.record_exam", future).code == "date_in_future"
    assert progress(chain)["exams"][0]["part"] == "practical"


def test_certificate_rules():
    chain = world()
    assert chain.send(BUREAU, "learning.issue_certificate", certificate_body("a", 1)).code == ""
    assert chain.send(BUREAU, "learning.issue_certificate",
                      certificate_body("a", 1)).code == "duplicate_certificate"
    assert chain.send(BUREAU, "learning.issue_certificate",
                      certificate_body("b", 1, kind="special_ability")).code == (
        "bad_certificate_type")
    assert chain.send(BUREAU, "learning.issue_certificate",
                      certificate_body("c", 1, occ=("9-99-99-99", 2015, 5))).code == (
        "unknown_occupation")
    assert chain.send(BUREAU, "learning.issue_certificate",
                      certificate_body("d", 1, date=chain.time + 999)).code == "date_in_future"
    assert len(progress(chain)["certificates"]) == 1


def test_bad_session_body_names_the_field():
    chain = world()
    bad = session("s1", 1, D1, HOUR)
    bad[4] = "dance"
    receipt = record(chain, bad)
    assert receipt.code == "bad_body" and "mode" in receipt.events[0].data[1]
    short = session("s1", 1, D1, HOUR)
    short[1] = b"short"
    receipt = record(chain, short)
    assert receipt.code == "bad_body" and "trainee" in receipt.events[0].data[1]
