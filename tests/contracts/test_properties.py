"""Property tests: the province-wide invariants hold under random interleavings.

``CONTRACT_PROPERTY_EXAMPLES=2000 pytest tests/contracts/test_properties.py`` for a long run.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import query_progress
from contracts.model import DayLog, Fund, day_key, day_of, fund_key
from tests.contracts.helpers import (
    BUREAU,
    DAY,
    HOUR,
    ORGANIZER,
    PROVIDER,
    PROVIDER2,
    STANDARD_FEN,
    T0,
    Chain,
    certificate_body,
    enrol_body,
    h,
    make_genesis,
    offline_body,
    open_class_body,
    pub,
    session,
    trainee,
)

SETTINGS = settings(max_examples=int(os.environ.get("CONTRACT_PROPERTY_EXAMPLES", "100")),
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
D1 = T0 + 2 * DAY
PRACTICAL_S = 4 * HOUR
DAILY_CAP_S = 8 * HOUR
CLASSES = {0: (PROVIDER, "c1"), 1: (PROVIDER2, "c2")}


def two_provider_world(trainees=(1, 2, 3), budget_fen: int = 10_000_000) -> Chain:
    chain = Chain(genesis=make_genesis(budget_fen=budget_fen))
    chain.run([chain.tx(PROVIDER, "enrolment.open_class", open_class_body("c1")),
               chain.tx(PROVIDER2, "enrolment.open_class", open_class_body("c2"))])
    chain.run([chain.tx(PROVIDER, "enrolment.enrol", enrol_body("c1", list(trainees))),
               chain.tx(PROVIDER2, "enrolment.enrol", enrol_body("c2", list(trainees)))])
    chain.run([], advance_s=30 * DAY)
    return chain


session_spec = st.tuples(
    st.integers(0, 1),                     # provider
    st.integers(1, 3),                     # trainee
    st.integers(0, 48 * 4),                # start, in quarter hours after D1
    st.integers(1, 16),                    # duration, in quarter hours
    st.sampled_from(["recorded", "live", "simulation"]),
)


@SETTINGS
@given(specs=st.lists(session_spec, min_size=1, max_size=40),
       cuts=st.lists(st.integers(1, 8), min_size=1, max_size=10))
def test_no_two_credited_sessions_overlap_and_caps_hold(specs, cuts):
    chain = two_provider_world()
    spans = {}
    batches: dict[int, list] = defaultdict(list)
    for i, (p, n, start_q, dur_q, mode) in enumerate(specs):
        start, end = D1 + start_q * 900, D1 + (start_q + dur_q) * 900
        sid = f"s{i}"
        spans[(p, sid)] = (n, start, end)
        batches[p].append(session(sid, n, start, end - start, class_id=CLASSES[p][1], mode=mode))
    txs = []
    for p, items in sorted(batches.items()):
        cut_iter = itertools.cycle(cuts)
        while items:
            size = next(cut_iter)
            txs.append(chain.tx(CLASSES[p][0], "learning.record_sessions", [items[:size]]))
            items = items[size:]
    # interleave the two providers' txs, a few per block
    order = sorted(txs, key=lambda t: (t.nonce * 7919) % 97)
    credited = []
    for i in range(0, len(order), 3):
        for tx, receipt in zip(order[i:i + 3], chain.run(order[i:i + 3]), strict=True):
            p = 0 if tx.sender == pub(PROVIDER) else 1
            for event in receipt.events:
                if event.kind == "learning.session_credited":
                    credited.append(spans[(p, event.data[0])])
    by_trainee = defaultdict(list)
    for n, start, end in credited:
        by_trainee[n].append((start, end))
    for intervals in by_trainee.values():
        intervals.sort()
        for (_, end_a), (start_b, _) in zip(intervals, intervals[1:], strict=False):
            assert end_a <= start_b
    view = chain.view()
    for n in (1, 2, 3):
        for class_id in ("c1", "c2"):
            result = query_progress(view, class_id, trainee(n))[0]
            assert result["simulation_seconds"] <= PRACTICAL_S // 2
        for day in range(day_of(D1), day_of(D1 + 3 * DAY) + 1):
            log = view.get_record(day_key(trainee(n), day), DayLog)
            assert log is None or log.credited_seconds <= DAILY_CAP_S


def prepare_claimable(chain: Chain, people: range) -> None:
    """Complete hours in c1 and c2 and two certificates (x, y) per trainee."""
    for p, (provider, class_id) in CLASSES.items():
        items = []
        for n in people:
            base = D1 + 3 * p * DAY
            items += [session(f"t{n}", n, base, 4 * HOUR, class_id=class_id),
                      session(f"m{n}", n, base + DAY, 2 * HOUR, mode="simulation",
                              class_id=class_id)]
        chain.run([chain.tx(provider, "learning.record_sessions", [items])])
        chain.run([chain.tx(BUREAU, "learning.record_offline_practice",
                            offline_body(f"o{p}-{n}", n, D1 + (3 * p + 2) * DAY, 2 * HOUR,
                                         class_id=class_id)) for n in people])
    chain.run([chain.tx(BUREAU, "learning.issue_certificate",
                        certificate_body(f"{label}{n}", n, date=chain.time))
               for n in people for label in "xy"])


action = st.tuples(st.sampled_from(["file", "approve", "publicise", "pay", "reject", "wait",
                                    "file", "settle", "settle"]),
                   st.integers(0, 2), st.sampled_from(["unemployment_insurance",
                                                       "employment_subsidy"]),
                   st.sampled_from(["c1", "c2"]), st.sampled_from("xy"))


@SETTINGS
@given(actions=st.lists(action, min_size=1, max_size=40),
       budget_claims=st.integers(0, 3))
def test_paid_never_exceeds_budget_and_nobody_is_paid_twice(actions, budget_claims):
    people = range(3)
    budget = budget_claims * STANDARD_FEN + 50_000
    chain = two_provider_world(trainees=tuple(people), budget_fen=budget)
    prepare_claimable(chain, people)
    claims: dict[int, list[bytes]] = defaultdict(list)
    kinds = {"approve": [], "publicise": [], "pay": [h("pay")], "reject": ["audit"]}
    for verb, n, source, class_id, label in actions:
        if verb == "wait":
            chain.run([], advance_s=6 * DAY)
        elif verb == "file":
            tx = chain.tx(ORGANIZER, "settlement.file_claim",
                          [trainee(n), class_id, h(f"cert-{label}{n}"), source])
            if chain.run([tx])[0].code == "":
                claims[n].append(chain.hash_of(tx))
        elif verb == "settle" and claims[n]:  # the whole review, so that money moves
            for step in ("approve", "publicise", "wait", "pay"):
                if step == "wait":
                    chain.run([], advance_s=6 * DAY)
                else:
                    chain.send(BUREAU, f"settlement.{step}_claim", [claims[n][-1], *kinds[step]])
        elif claims[n]:
            chain.send(BUREAU, f"settlement.{verb}_claim", [claims[n][-1], *kinds[verb]])
        view = chain.view()
        for src in ("unemployment_insurance", "employment_subsidy"):
            fund = view.get_record(fund_key("360100", src), Fund)
            assert fund.paid_fen + fund.reserved_fen <= fund.budget_fen
    view = chain.view()
    for ids in claims.values():
        states = [query_state(view, c) for c in ids]
        assert sum(s in ("filed", "approved", "publicised", "paid", "revoked")
                   for s in states) <= 1, states


def query_state(view, claim_id: bytes) -> str:
    from contracts import query_claim

    return query_claim(view, claim_id)[0]["state"]
