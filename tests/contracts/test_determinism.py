"""The same block on fresh states gives byte-identical changes, whatever the hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.contracts.scenario import block_txs, prepared, run_fresh

REPO = Path(__file__).resolve().parents[2]


def test_scenario_exercises_credits_rejections_and_claims():
    chain = prepared()
    receipts = chain.run(block_txs(chain))
    kinds = {e.kind for r in receipts for e in r.events}
    assert {"learning.session_credited", "learning.session_rejected",
            "settlement.claim_filed"} <= kinds


def test_two_fresh_states_give_identical_changes():
    assert run_fresh() == run_fresh()


def test_identical_under_other_hash_seeds():
    here = run_fresh().hex()
    for seed in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
        out = subprocess.run(
            [sys.executable, "-m", "tests.contracts.scenario"], cwd=REPO, env=env,
            capture_output=True, text=True, check=True, timeout=120,
        )
        assert out.stdout == here
