"""The node shell in the simulator: Byzantine shells never stop an honest driver,
a slow clock is seen and counted, and every planted shell bug is caught."""

from __future__ import annotations

import pytest

from node.mutations import MUTATIONS
from tests.consensus.run_sim import hunt_shell_mutant
from tests.node.shellsim import SHELL_BEHAVIOURS, ShellOptions, ShellSimulation, run_shell_seed


def test_honest_shells_agree_and_progress_under_loss_and_crashes():
    for seed in range(6):
        opts = ShellOptions(n=4, seed=seed, target_blocks=25, drop=0.05, crash_every_ms=1500,
                            wipe_rate=0.5)
        result = ShellSimulation(opts).run()
        assert result.ok, f"seed {seed}: {result.violation}"


@pytest.mark.parametrize(("behaviour", "n"), [
    *((b, 4) for b in SHELL_BEHAVIOURS), ("tamper_bodies", 7)])
def test_one_kind_of_byzantine_shell_never_stops_an_honest_node(behaviour, n):
    """Tampered bodies (the finding: a certified header with a flipped tx signature),
    catch-up floods, evidence floods, garbage: each alone, f liars, wipes on."""
    for seed in range(4):
        opts = ShellOptions(n=n, seed=seed, target_blocks=20, byzantine=(n - 1) // 3,
                            behaviours=(behaviour,), crash_every_ms=2500, wipe_rate=0.7,
                            drop=0.02)
        result = ShellSimulation(opts).run()
        assert result.ok, f"seed {seed}: {result.violation}"


def test_mixed_byzantine_shells_over_seeds():
    failures = [r for r in (run_shell_seed(seed, (4, 7)[seed % 2], 20) for seed in range(8))
                if not r.ok]
    assert not failures, [(r.seed, r.violation) for r in failures]


def test_a_slow_clock_is_measured_and_its_refusals_counted():
    """Finding 9: a validator 60 s slow refuses every proposal of the others as "ahead of
    our clock" (tolerance 30 s); the chain goes on with the other three, and the slow one
    says so: its offset from the peers and a count of proposals refused for time."""
    sim = ShellSimulation(ShellOptions(n=4, seed=3, target_blocks=15, skew_s={2: -60}))
    sim.honest = [node for node in sim.nodes if node.index != 2]  # it cannot vote; others go on
    result = sim.run()
    assert result.ok, result.violation
    slow = sim.nodes[2].driver
    assert slow is not None
    status = slow.status()
    assert status["clock_offset_s"] == -60
    assert status["proposals_refused_for_time"] > 0
    assert status["clock_tolerance_s"] == 30
    fine = sim.nodes[0].driver
    assert fine is not None
    assert fine.status()["clock_offset_s"] in (0, 60)  # median of 3 peers, one of them slow
    assert fine.status()["proposals_refused_for_time"] == 0


@pytest.mark.parametrize("name", MUTATIONS)
def test_every_planted_shell_bug_is_caught(name):
    seeds, why = hunt_shell_mutant(name, limit=96)
    assert seeds is not None, f"shell mutant {name} survived 96 seeds"
