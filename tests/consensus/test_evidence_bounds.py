"""A validator flooding conflicting votes costs a replica bounded work and memory
(issue 13, finding 4, replica side).

The flood: two (or more) conflicting signed PREPAREs and COMMITs for every view
the replica accepts at its height. The replica verifies the first vote of each
slot (it may count toward a quorum), reports at most
``MAX_EVIDENCE_PER_VOTER`` equivocations of one validator per height, and
checks no signature of a conflicting vote once that validator's reports are
spent or the slot is already proven; votes for views beyond ``max_view_ahead``
are never checked at all.
"""

from __future__ import annotations

from chain.types import Phase, sign_vote
from consensus import Replica, ReportEvidence
from consensus.replica import MAX_EVIDENCE_PER_VOTER
from tests.consensus.bus import CHAIN, SUITE, Bus


class CountingSuite:
    """The real suite, counting signature checks."""

    def __init__(self, suite) -> None:
        self._suite = suite
        self.verifies = 0

    def verify(self, *args):
        self.verifies += 1
        return self._suite.verify(*args)

    def __getattr__(self, name):
        return getattr(self._suite, name)


def _replica(bus: Bus, me: int, suite: CountingSuite) -> Replica:
    return Replica(suite, CHAIN, bus.signers[me], bus.provider, bus.config,  # type: ignore[arg-type]
                   body_check=bus.apps[me].is_valid_body)


def test_a_flood_of_conflicting_votes_is_bounded_in_reports_and_signature_checks():
    bus = Bus(4)
    suite = CountingSuite(SUITE)
    replica = _replica(bus, 0, suite)
    replica.start(0)
    liar = bus.signers[2]
    ahead = bus.config.max_view_ahead
    reports = 0
    suite.verifies = 0
    for view in range(ahead + 10):
        for phase in (Phase.PREPARE, Phase.COMMIT):
            for k in range(4):  # four different blocks per slot
                vote = sign_vote(liar, CHAIN, phase, 1, view, bytes([k + 1]) * 32)
                actions = replica.on_message(liar.public_key, vote)
                reports += sum(isinstance(a, ReportEvidence) for a in actions)
    slots = (ahead + 1) * 2  # views 0..max_view_ahead, two phases
    assert reports == MAX_EVIDENCE_PER_VOTER
    assert suite.verifies <= slots + MAX_EVIDENCE_PER_VOTER, suite.verifies
    assert len(replica.round.evidence) <= MAX_EVIDENCE_PER_VOTER


def test_one_conflict_per_slot_is_checked_and_reported_once():
    bus = Bus(4)
    suite = CountingSuite(SUITE)
    replica = _replica(bus, 0, suite)
    replica.start(0)
    liar = bus.signers[2]
    first = sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, b"\xaa" * 32)
    replica.on_message(liar.public_key, first)
    second = sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, b"\xbb" * 32)
    assert ReportEvidence(first, second) in replica.on_message(liar.public_key, second)
    suite.verifies = 0
    for k in range(50):
        vote = sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, bytes([k]) * 32)
        assert not replica.on_message(liar.public_key, vote)
    assert suite.verifies == 0


def test_a_forged_conflicting_vote_is_no_evidence_and_spends_no_report():
    bus = Bus(4)
    replica = _replica(bus, 0, CountingSuite(SUITE))
    replica.start(0)
    liar = bus.signers[2]
    replica.on_message(liar.public_key, sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, b"\xaa" * 32))
    forged = sign_vote(bus.signers[1], CHAIN, Phase.PREPARE, 1, 0, b"\xbb" * 32)
    import dataclasses

    forged = dataclasses.replace(forged, voter=liar.public_key)
    assert not replica.on_message(liar.public_key, forged)
    real = sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, b"\xcc" * 32)
    assert any(isinstance(a, ReportEvidence) for a in replica.on_message(liar.public_key, real))


def test_evidence_is_bounded_per_height_for_every_voter():
    bus = Bus(7)
    replica = _replica(bus, 0, CountingSuite(SUITE))
    replica.start(0)
    for liar in bus.signers[1:3]:
        for view in range(10):
            for k in (1, 2):
                replica.on_message(liar.public_key,
                                   sign_vote(liar, CHAIN, Phase.COMMIT, 1, view, bytes([k]) * 32))
    assert len(replica.round.evidence) == 2 * MAX_EVIDENCE_PER_VOTER


def test_votes_beyond_max_view_ahead_are_never_checked():
    bus = Bus(4)
    suite = CountingSuite(SUITE)
    replica = _replica(bus, 0, suite)
    replica.start(0)
    liar = bus.signers[2]
    suite.verifies = 0
    far = bus.config.max_view_ahead + 1
    for view in range(far, far + 100):
        vote = sign_vote(liar, CHAIN, Phase.PREPARE, 1, view, b"\xaa" * 32)
        assert not replica.on_message(liar.public_key, vote)
    assert suite.verifies == 0
