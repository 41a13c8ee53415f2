"""A replica far behind fetches batch after batch without waiting for a timer."""

from __future__ import annotations

from consensus import Config, RequestCatchUp
from tests.consensus.bus import Bus


def test_far_behind_replica_asks_for_the_next_batch_as_soon_as_one_is_applied():
    bus = Bus(4, Config(base_timeout_ms=1000, max_timeout_ms=8000, catch_up_batch=2))
    bus.run_without(3, 9)
    assert min(bus.heights()[:3]) >= 9
    bus.down.discard(3)
    bus.perform(3, bus.replicas[3].start(bus.now))
    bus.deliver_all()  # the clock does not move: no timer may be needed
    assert bus.heights()[3] >= 9, "caught up in batches of 2 with no timeout between them"
    assert bus.apps[3].roots == bus.apps[0].roots[: len(bus.apps[3].roots)]
    asked = [a.from_height for i, a in bus.log if i == 3 and isinstance(a, RequestCatchUp)]
    assert asked[:4] == [1, 3, 5, 7], asked


def test_a_caught_up_replica_stops_asking():
    bus = Bus(4, Config(base_timeout_ms=1000, max_timeout_ms=8000, catch_up_batch=64))
    bus.run_without(3, 4)
    bus.down.discard(3)
    bus.perform(3, bus.replicas[3].start(bus.now))
    bus.deliver_all()
    asked = [a.from_height for i, a in bus.log if i == 3 and isinstance(a, RequestCatchUp)]
    assert len(asked) <= 2, asked  # the first request, and one answered with nothing
