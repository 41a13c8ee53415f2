"""The short chaos run inside ``make test``: n=4, every perturbation kind, all checks green.

Seeded: a failure prints the seed and the perturbation log, and
``python -m bench.chaos --seed S`` replays the same schedule for longer.
"""

from __future__ import annotations

import json
import time

from tests.chaos.harness import KINDS, ChaosConfig, run_chaos

SEED = 20261127


def test_short_chaos_run_keeps_every_invariant(tmp_path):
    lines: list[str] = []
    started = time.monotonic()
    result = run_chaos(
        tmp_path, ChaosConfig(validators=4, seed=SEED, perturbations=10), lines.append
    )
    print(json.dumps(result.summary()))
    context = f"seed {SEED}\n" + "\n".join(lines) + f"\n{result.summary()}"
    assert len(result.perturbations) >= 10, context
    assert {p.kind for p in result.perturbations} == set(KINDS), context
    report = result.report
    assert report.acked > 0, context
    assert report.divergent_heights == [], context
    assert report.lost == [], context
    assert report.double_applied == [], context
    assert report.conflicting_signatures == 0, context
    assert result.max_recovery_s <= 60, context
    assert time.monotonic() - started < 180, context
