"""Progress timers (issue 14): held while idle, renewed while a height advances, and a
resend half-way, so an idle chain makes no block and a slow or lossy height no view change."""

from __future__ import annotations

from chain.types import Phase, header_hash
from consensus import Commit, PrePrepare, Step, ViewChange, sign_message
from tests.consensus.bus import CHAIN, SUITE, Bus

BASE = 1000  # Bus's base timeout


def _view_changes(bus: Bus) -> list[ViewChange]:
    return [a.msg for _, a in bus.log if isinstance(getattr(a, "msg", None), ViewChange)]


def _idle(bus: Bus) -> None:
    for i, replica in enumerate(bus.replicas):
        bus.perform(i, replica.on_pending_work(False))


def test_an_idle_replica_never_changes_view():
    bus = Bus(4)
    bus.max_height = 0  # no primary builds: nothing is ever proposed
    bus.start()
    _idle(bus)
    for t in range(BASE, 20 * BASE, BASE):
        bus.tick(t)
    assert [r.view for r in bus.replicas] == [0, 0, 0, 0]
    assert all(r.step == Step.PROPOSE and r.is_idle() for r in bus.replicas)
    assert _view_changes(bus) == []


def test_work_starts_a_whole_timeout_from_when_it_arrived():
    """The timer was held for 20 s; txs arrive: the primary gets a full timeout, not
    whatever was left of a timer armed when the height began."""
    bus = Bus(4)
    bus.max_height = 0
    bus.start()
    _idle(bus)
    bus.tick(20 * BASE)
    arrived = 20 * BASE + 5
    bus.now = arrived
    for i, replica in enumerate(bus.replicas):
        replica.on_tick(arrived)
        bus.perform(i, replica.on_pending_work(True))
    bus.tick(arrived + BASE - 1)
    assert [r.view for r in bus.replicas] == [0, 0, 0, 0]
    bus.tick(arrived + BASE)
    assert [r.view for r in bus.replicas] == [1, 1, 1, 1]  # a dead primary is still replaced


def test_idle_replicas_still_decide_a_proposal_that_comes():
    bus = Bus(4)
    bus.max_height = 1
    bus.start()
    _idle(bus)  # the proposal for height 1 is on its way (Bus builds on request)
    bus.deliver_all()
    assert bus.heights() == [1, 1, 1, 1]
    assert all(r.height == 2 and r.is_idle() for r in bus.replicas)  # and then wait quietly
    bus.tick(10 * BASE)
    assert _view_changes(bus) == []


def _proposal_to(bus: Bus, replica_index: int):
    primary = bus.primary(0)
    block = bus.apps[primary].build(1, 0, bus.apps[primary].hashes[-1])
    pp = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, block, b"", b""))
    replica = bus.replicas[replica_index]
    replica.start(0)
    replica.on_message(bus.signers[primary].public_key, pp)
    return replica, header_hash(SUITE, block.header)


def test_a_verification_longer_than_the_timeout_does_not_change_the_view():
    """Finding: a big block that takes more than the base timeout to verify on a shared
    core changed the view and threw the work away. The timer restarts when verification
    ends (and when the height prepares), so only a height that stops moving changes view."""
    bus = Bus(4)
    replica, digest = _proposal_to(bus, 2)
    ended = BASE + 500  # verification ran past the deadline armed at the start
    actions = replica.on_block_verified(digest, True, ended)
    assert replica.step == Step.PREPARE
    assert any(getattr(a, "msg", None) is not None and getattr(a.msg, "phase", None)
               == Phase.PREPARE for a in actions)
    assert replica.on_tick(ended + 10) == [] or replica.view == 0
    assert replica.view == 0 and replica.step == Step.PREPARE
    replica.on_tick(ended + BASE)  # no quorum of PREPAREs within a timeout: now it changes
    assert replica.view == 1


def test_renewals_are_bounded():
    """A primary whose proposal never prepares delays the view change by a bounded time."""
    bus = Bus(4)
    replica, digest = _proposal_to(bus, 2)
    replica.on_block_verified(digest, True, 10)
    t = 10
    while replica.view == 0:
        t += 100
        replica.on_tick(t)
        assert t < 4 * BASE, "renewed without end"


def test_a_lost_vote_is_resent_half_way_instead_of_changing_view():
    """Every PREPARE sent before t = BASE/2 is lost (a link that broke and came back):
    the replicas send them again half-way to the deadline and decide in view 0."""
    bus = Bus(4)
    bus.max_height = 1
    bus.drop = lambda msg: getattr(msg, "phase", None) == Phase.PREPARE and bus.now < BASE // 2
    bus.start()
    bus.deliver_all()
    assert bus.heights() == [0, 0, 0, 0]
    bus.tick(BASE // 2)
    assert bus.heights() == [1, 1, 1, 1]
    commits = [a for _, a in bus.log if isinstance(a, Commit)]
    assert {c.certificate.view for c in commits} == {0}
    assert _view_changes(bus) == []


def test_a_peer_tip_ahead_of_us_asks_that_peer_for_blocks():
    bus = Bus(4)
    replica = bus.replicas[1]
    replica.start(0)  # asks everyone at start; a tip is acted on a base timeout later
    replica.on_pending_work(False)
    replica.on_tick(BASE)
    peer = bus.signers[2].public_key
    assert replica.on_peer_tip(peer, 0) == []  # not ahead: nothing to ask
    actions = replica.on_peer_tip(peer, 5)
    assert [a.peers for a in actions if hasattr(a, "peers")] == [(peer,)]
    assert replica.on_peer_tip(peer, 6) == []  # at most once per base timeout
