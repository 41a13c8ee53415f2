"""Leader reputation (issue 14): a validator whose turn failed is passed over for a while.

Finding: one slow bureau cost a view change on every height it led (50 view changes
in 48 heights, blocks per minute 288 -> 62). With the schedule read from the headers'
views, a dead primary costs one timeout, then is skipped until its failure leaves the
window."""

from __future__ import annotations

from chain.validators import Validator, ValidatorSet
from consensus import Commit, Config
from consensus.leaders import benched, schedule
from consensus.viewchange import primary_index
from tests.consensus.bus import Bus, make_signers


def _valset(n: int) -> ValidatorSet:
    return ValidatorSet(Validator(s.public_key, f"v{i}", "360000")
                        for i, s in enumerate(make_signers(n)))


def _key(valset: ValidatorSet, height: int) -> bytes:
    return valset.validators[primary_index(height, 0, len(valset))].public_key


def test_no_failure_keeps_the_plain_rotation():
    valset = _valset(4)
    assert benched(valset, 9, {h: 0 for h in range(1, 9)}, 24) == frozenset()
    order = schedule(valset, 9, frozenset())
    assert list(order) == [valset.validators[primary_index(9, v, 4)].public_key
                           for v in range(4)]


def test_a_failed_turn_is_passed_over_until_it_leaves_the_window():
    valset = _valset(4)
    blamed = _key(valset, 5)
    assert benched(valset, 7, {5: 1, 6: 0}, 24) == {blamed}
    assert blamed not in schedule(valset, 7, frozenset({blamed}))
    assert benched(valset, 5 + 24, {5: 1}, 24) == {blamed}
    assert benched(valset, 5 + 25, {5: 1}, 24) == frozenset()


def test_at_most_f_are_benched_the_most_recent_first():
    valset = _valset(7)  # f = 2
    views = {3: 1, 4: 2, 5: 1}
    assert benched(valset, 6, views, 24) == {_key(valset, 5), _key(valset, 4)}


def _heights_decided_after_a_view_change(bus: Bus) -> set[int]:
    return {a.block.header.height for _, a in bus.log
            if isinstance(a, Commit) and a.block.header.view > 0}


def test_a_dead_primary_costs_one_view_change_not_one_per_turn():
    plain = Bus(4)
    plain.run_without(absent=1, height=12)
    assert len(_heights_decided_after_a_view_change(plain)) == 3  # heights 1, 5, 9

    reputed = Bus(4, Config(base_timeout_ms=1000, max_timeout_ms=8000, leader_window=24))
    reputed.run_without(absent=1, height=12)
    assert _heights_decided_after_a_view_change(reputed) == {1}
    assert min(h for i, h in enumerate(reputed.heights()) if i != 1) >= 12
