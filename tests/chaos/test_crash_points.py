"""Kill a validator at each named crash point under load; it must recover cleanly.

For every point in ``node.crashpoints.POINTS``: restart one validator with
``SKILLCHAIN_CRASH_AT=<point>``, keep a signed load running until the process
SIGKILLs itself there, restart it without the variable, and check that it
catches up, that all nodes agree on every block and state root, that no
validator signed two blocks for one (height, view) and that every tx a client
was told is committed is in the chain exactly once. One 4-node network serves
all points (each point moves to the next node, so every node crashes at
least once and the primary is sometimes among them).
"""

from __future__ import annotations

import time

import pytest

from cli.devnet import wait_ready
from node.crashpoints import POINTS
from tests.chaos.checks import check_chains, wait_converged
from tests.chaos.harness import ChaosNet, Load


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    chaos = ChaosNet(tmp_path_factory.mktemp("crash"), 4)
    chaos.start_all()
    yield chaos
    chaos.close()


def wait_exit(net: ChaosNet, i: int, timeout_s: float = 60) -> int | None:
    """The exit code of node ``i`` once it has died, or None if it is still running."""
    proc = net.cluster.procs[i]
    assert proc is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc.returncode
        time.sleep(0.05)
    return None


@pytest.mark.parametrize("point", POINTS)
def test_node_recovers_from_crash_at(net, point):
    victim = POINTS.index(point) % net.n
    net.kill(victim)
    net.start(victim, {"SKILLCHAIN_CRASH_AT": f"{point}:2"}, wait=False)
    load = Load(net, clients=3, pause_s=0.02, seed=POINTS.index(point))
    load.start()
    try:
        code = wait_exit(net, victim)
        assert code == -9, f"node {victim} did not die at {point} (exit {code})"
        net.start(victim, wait=False)
        wait_ready([net.urls[victim]])
        wait_converged(net.urls, timeout_s=60)
        # The restarted node must also take part in new commits, not just catch up.
        target = max(h for h in net.cluster.heights() if h is not None) + 3
        net.cluster.wait_height(target, timeout_s=60)
    finally:
        load.stop()
    wait_converged(net.urls, timeout_s=60)
    report = check_chains(net.urls, set(load.acked))
    assert report.acked > 0
    assert report.ok, report.summary()
