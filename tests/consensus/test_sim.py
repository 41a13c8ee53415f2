"""The simulator: many seeds with mixed faults, determinism, and the mutation check.

A failing seed prints the one-line command that reruns it. Seeds that once
failed are pinned in ``REGRESSION_SEEDS`` and must pass forever.
"""

from __future__ import annotations

import time

import pytest

from consensus import mutations
from tests.consensus.run_sim import rerun_command
from tests.consensus.sim import SimOptions, Simulation, run_seed

SEEDS = 500
CHUNK = 50
BLOCKS = 200

REGRESSION_SEEDS: list[tuple[int, int]] = [
    (447, 7),  # a replica alone two views ahead leapfrogged the rest forever (capped timeouts)
    (1, 7),  # a validator removed at height 51 still counted its own COMMIT toward a quorum
    (17, 10),  # the same, n=10
]
"""(seed, n) pairs that once failed; fixed, never skipped."""

MUTANT_SEEDS = {
    # planted bug -> (seed, n) of the first seed in the hunt order that catches it
    # (``python -m tests.consensus.run_sim --mutants`` recomputes the whole table).
    "persist_after_send": (468, 4),
    "new_view_without_certificates": (229, 7),
    "count_messages_not_signers": (1, 7),
    "prepare_as_commit": (0, 4),
    "view_goes_backwards": (0, 4),
    "catch_up_without_certificate": (3, 7),
}


def _check(seed: int, n: int, blocks: int = BLOCKS, **over: object) -> None:
    result = run_seed(seed, n, blocks, **over)
    assert result.ok, f"seed {seed} n={n}: {result.violation}\n  rerun: " + rerun_command(
        seed, n, blocks)
    assert result.blocks >= blocks


@pytest.mark.parametrize("chunk", range(SEEDS // CHUNK))
def test_mixed_fault_seeds(chunk):
    """500 seeds over n in {4, 7}, 200 decided blocks each, mixed faults."""
    started = time.process_time()
    for seed in range(chunk * CHUNK, (chunk + 1) * CHUNK):
        _check(seed, (4, 7)[seed % 2])
    print(f"chunk {chunk}: {CHUNK} seeds in {time.process_time() - started:.1f} cpu s")


@pytest.mark.parametrize(("seed", "n"), REGRESSION_SEEDS or [(0, 4)])
def test_regression_seeds(seed, n):
    _check(seed, n)


@pytest.mark.parametrize("n", [1, 10, 12])
def test_other_sizes(n):
    for seed in range(3):
        _check(seed, n, 60)


def test_real_ed25519_seeds():
    for seed in range(4):
        _check(seed, (4, 7)[seed % 2], 30, ed25519=True)


def test_every_seed_exercises_faults_somewhere():
    """The scenario mix is not secretly benign: faults really happen across seeds."""
    options = [SimOptions.from_seed(s, 4) for s in range(200)]
    assert sum(o.byzantine > 0 for o in options) > 40
    assert sum(o.crashes for o in options) > 40
    assert sum(o.partitions for o in options) > 40
    assert sum(o.drop > 0 for o in options) > 40
    assert sum(o.wire for o in options) > 5
    behaviours = {b for o in options for b in o.behaviours}
    assert len(behaviours) == 10


def test_same_seed_same_trace():
    first = run_seed(11, 4, 60)
    again = run_seed(11, 4, 60)
    other = run_seed(12, 4, 60)
    assert first.trace_hash == again.trace_hash and first.events == again.events
    assert other.trace_hash != first.trace_hash


def test_validator_removal_mid_run():
    """From a height on, one validator is out: quorums and certificates follow the new set."""
    for seed, n in [(1, 7), (2, 4), (5, 10)]:
        _check(seed, n, 80, remove_at=20)


def test_fault_free_run_has_no_view_changes():
    result = Simulation(SimOptions(n=4, seed=3, target_blocks=100)).run()
    assert result.ok and result.blocks == 100 and result.view_changes == 0


@pytest.mark.parametrize("name", mutations.MUTATIONS)
def test_each_planted_bug_is_caught(name):
    seed, n = MUTANT_SEEDS[name]
    caught = run_seed(seed, n, 40, mutants=frozenset({name}))
    assert not caught.ok, f"{name} no longer caught by seed {seed}: rerun the hunt"
    assert run_seed(seed, n, 40).ok
    assert not mutations.ENABLED, "planted bugs must be switched off after a run"


@pytest.mark.parametrize(("seed", "n"), [(0, 4), (1, 7), (2, 10)])
def test_an_equivocating_primary_is_caught(seed, n):
    """A primary showing different blocks to different replicas leaves valid evidence
    (the checker verifies every report and that it names a Byzantine validator)."""
    options = SimOptions(n=n, seed=seed, target_blocks=40, byzantine=(n - 1) // 3,
                         behaviours=("equivocate",))
    result = Simulation(options).run()
    assert result.ok, result.violation
    assert result.blocks >= 40 and result.proposal_evidence > 0
