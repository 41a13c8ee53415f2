"""A validator whose store was wiped but whose journal was kept never signs anew what it
signed before: found by the shell simulator (``tests/node/shellsim.py``, a crash with
a wipe right after the primary's PRE-PREPARE left), pinned here on the replica."""

from __future__ import annotations

from chain.types import header_hash
from consensus import PrePrepare
from tests.consensus.bus import SUITE, Bus
from tests.consensus.toyapp import ToyApp


def test_a_wiped_primary_that_catches_up_resends_its_journaled_proposal():
    bus = Bus(4)
    bus.max_height = 2
    bus.start()
    bus.deliver_all()
    assert bus.heights() == [2, 2, 2, 2]
    primary = bus.primary(0, height=3)
    parent = bus.apps[primary].hashes[-1]
    block = bus.apps[primary].build(3, 0, parent)
    bus.perform(primary, bus.replicas[primary].on_proposal_ready(block))
    bus.queue.clear()  # it crashed as the proposal left: nobody got it
    signed = header_hash(SUITE, block.header)

    old = bus.apps[primary]
    wiped = ToyApp(SUITE, old.chain_id, old.key)
    wiped.epoch = old.epoch  # restart() moves it on: a fresh build would differ
    bus.apps[primary] = wiped
    bus.max_height = 3
    bus.restart(primary)
    bus.deliver_all()  # catch-up to height 2 from the others, then height 3

    proposals = [a.msg for i, a in bus.log if i == primary and isinstance(
        getattr(a, "msg", None), PrePrepare) and a.msg.height == 3]
    assert proposals, "the primary of height 3 proposed nothing after catching up"
    assert {header_hash(SUITE, p.block.header) for p in proposals} == {signed}
