"""Queries answer from state and name every key they read (so the node can prove them)."""

from __future__ import annotations

import json

from contracts import (
    query_city_stats,
    query_claim,
    query_class,
    query_progress,
    query_provider_stats,
)
from contracts.model import class_key, enrolment_key, session_key
from tests.contracts.helpers import (
    CITY,
    DAY,
    HOUR,
    PROVIDER,
    T0,
    certificate_body,
    h,
    session,
    sessions_body,
    trainee,
    world,
)
from tests.contracts.test_settlement import certify, complete_hours, file

D1 = T0 + 2 * DAY


def replay_reads(chain, keys):
    """What a verifier would hold: exactly the values at the keys named."""
    view = chain.view()
    return {k: view.get(k) for k in keys}


def test_progress_lists_sessions_and_names_keys():
    chain = world()
    complete_hours(chain, 1)
    chain.send(PROVIDER, "learning.correct_session", ["t1-2", "clock_error", h("n")])
    result, keys = query_progress(chain.view(), "c1", trainee(1))
    json.dumps(result)  # plain JSON
    assert result["theory_seconds"] == 2 * HOUR and result["simulation_seconds"] == 2 * HOUR
    assert result["offline_seconds"] == 2 * HOUR
    assert {s["session_id"]: s["status"] for s in result["sessions"]} == {
        "t1-1": "credited", "t1-3": "credited", "t1-2": "voided"}
    assert [o["record_id"] for o in result["offline"]] == ["o1"]
    assert class_key("c1") in keys and enrolment_key("c1", trainee(1)) in keys
    assert session_key("platform-a", "t1-1") in keys
    assert len(keys) == len(set(keys))
    present = replay_reads(chain, keys)
    assert present[session_key("platform-a", "t1-2")] is not None  # the voided one too


def test_progress_of_a_stranger_names_the_missing_keys():
    chain = world()
    result, keys = query_progress(chain.view(), "c1", trainee(42))
    assert result["found"] is False
    assert enrolment_key("c1", trainee(42)) in keys  # an exclusion proof answers it


def test_progress_shows_certificate_and_claim_state():
    chain = world()
    complete_hours(chain, 1)
    _, claim_id = file(chain, 1, certify(chain, 1))
    result, _ = query_progress(chain.view(), "c1", trainee(1))
    assert result["claim_state"] == "filed" and len(result["certificates"]) == 1
    claim, keys = query_claim(chain.view(), claim_id)
    assert claim["certificate"]["trainee"] == trainee(1).hex() and len(keys) == 2
    assert query_claim(chain.view(), h("nope"))[0] == {"found": False,
                                                      "claim_id": h("nope").hex()}


def test_class_provider_and_city_queries():
    chain = world()
    chain.send(PROVIDER, "learning.record_sessions",
               sessions_body(session("s1", 1, D1, HOUR), session("s2", 9, D1, HOUR)))
    chain.send(11, "learning.issue_certificate", certificate_body("q", 1, date=chain.time))
    klass, keys = query_class(chain.view(), "c1")
    assert klass["trainee_count"] == 3 and len(klass["trainees"]) == 3 and len(keys) == 3
    assert klass["stats"]["sessions_credited"] == 1 and klass["stats"]["sessions_rejected"] == 1
    assert query_class(chain.view(), "none")[0]["found"] is False
    stats, keys = query_provider_stats(chain.view(), "platform-a")
    assert (stats["sessions_credited"], stats["sessions_rejected"], stats["classes"]) == (1, 1, 1)
    assert stats["enrolments"] == 3 and keys == [b"stats/provider/platform-a"]
    city, keys = query_city_stats(chain.view(), CITY)
    assert city["certificates"] == 1 and city["classes"] == 1
    assert city["funds"]["employment_subsidy"]["budget_fen"] == 10_000_000
    assert len(keys) == 3
