"""Replay the saved contract vectors (tests/vectors/contracts/*.json) from genesis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.genesis import Genesis
from chain.types import Tx, tx_hash
from contracts import BlockContext, DictState, Overlay, execute_block, init_genesis
from tests.contracts.helpers import SUITE, codes_of, pub, state_digest

VECTORS = sorted((Path(__file__).resolve().parents[1] / "vectors" / "contracts").glob("*.json"))


def test_vectors_exist():
    assert len(VECTORS) >= 15


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    base = DictState()
    state = Overlay(base)
    init_genesis(state, Genesis.model_validate(vector["genesis"]))
    base.apply(state.changes())
    receipts = []
    for i, block in enumerate(vector["blocks"]):
        if i == len(vector["blocks"]) - 1:
            assert state_digest(base).hex() == vector["pre_state_digest"]
        txs = [Tx.decode(bytes.fromhex(t)) for t in block["txs"]]
        state = Overlay(base)
        ctx = BlockContext(block["height"], block["time"], pub(1))
        receipts = execute_block(state, ctx, [(t, tx_hash(SUITE, t)) for t in txs])
        base.apply(state.changes())
    got = []
    for receipt, want in zip(receipts, vector["expected"], strict=True):
        entry = {"status": receipt.status, "code": receipt.code}
        if "session_codes" in want:
            entry["session_codes"] = codes_of(receipt)
        got.append(entry)
    assert got == vector["expected"]
    assert state_digest(base).hex() == vector["post_state_digest"]
