"""Replay and credentials across a validator-set change decided by governance txs."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from chain.credential import CredentialError, verify_credential
from chain.types import tx_hash
from cli.jiangxi import dev_signer
from cli.workload import Workload
from node.audit.credential import build_credential
from node.audit.replay import replay
from tests.audit.conftest import ListSource
from tests.audit.devchain import DevChain, forge_certificate, run_workload

NEWCOMER, LEAVER = "360500", "360100"


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevChain, int, Workload]:
    """Add Xinyu's validator and remove Nanchang's, then run the demo workload."""
    chain = DevChain.create(tmp_path_factory.mktemp("valset"))
    w = Workload(chain.root / "net", [], trainees=20, progress=lambda _: None)
    suite = chain.genesis.suite
    newcomer = dev_signer(f"validator/{NEWCOMER}").public_key
    leaver = dev_signer(f"validator/{LEAVER}").public_key
    add = w.tx("bureau-360200", "registry.propose_validator_change",
               ["add", newcomer, "Xinyu bureau validator", NEWCOMER])
    remove = w.tx("bureau-360200", "registry.propose_validator_change",
                  ["remove", leaver, "Nanchang bureau validator", LEAVER])
    chain.commit([add, remove])
    approvals = [w.tx(f"bureau-{city}", "registry.approve_validator_change", [tx_hash(suite, p)])
                 for p in (add, remove) for city in ("360300", "360400")]
    receipts = chain.commit(approvals)
    assert all(r.status == 0 for r in receipts), receipts
    before = chain.executor.validator_set()
    for _ in range(3):
        chain.commit([])
    assert chain.executor.validator_set() != before
    change_height = next(
        h for h in range(2, chain.store.head.height + 1)
        if chain.store.block(h).header.validators_hash  # type: ignore[union-attr]
        != chain.store.block(h - 1).header.validators_hash)  # type: ignore[union-attr]
    workload = run_workload(chain, trainees=60, per_block=100)
    return chain, change_height, workload


def test_replay_follows_the_change(changed, tmp_path: Path):
    chain, change_height, _ = changed
    report = replay(chain.genesis, chain.genesis_hash, ListSource(chain.pairs()), tmp_path, 2)
    assert report.ok, report.mismatch
    assert report.validator_set_changes == [change_height]


def test_removed_validator_cannot_sign_after_the_change(changed, tmp_path: Path):
    chain, change_height, _ = changed
    pairs = chain.pairs()
    block, _ = pairs[change_height]  # the block after the change
    old_set = chain.genesis.validator_set()  # includes the removed Nanchang key
    pairs[change_height] = (block, forge_certificate(chain.genesis, block.header, None, old_set))
    report = replay(chain.genesis, chain.genesis_hash, ListSource(pairs), tmp_path, 2)
    assert report.mismatch is not None
    assert (report.mismatch.height, report.mismatch.what) == (change_height + 1, "certificate")


@pytest.fixture(scope="module")
def bundle(changed) -> dict[str, Any]:
    chain, _, workload = changed
    plan = workload.classes[1]
    return build_credential(chain.store, chain.genesis_hash, plan.class_id, plan.trainees[0])


def test_credential_carries_the_change_and_verifies(changed, bundle):
    chain, _, _ = changed
    assert len(bundle["validator_changes"]) == 1
    facts = verify_credential(bundle, chain.genesis, chain.genesis_hash)
    assert facts.found and facts.validator_changes == 1
    assert "Xinyu bureau validator" in facts.signers or len(facts.signers) == 3
    assert "Nanchang bureau validator" not in facts.signers


def test_credential_without_the_change_fails(changed, bundle):
    chain, _, _ = changed
    cut = copy.deepcopy(bundle)
    cut["validator_changes"] = []
    with pytest.raises(CredentialError, match="validator-set chain is incomplete"):
        verify_credential(cut, chain.genesis, chain.genesis_hash)


def test_credential_with_a_forged_set_value_fails(changed, bundle):
    chain, _, _ = changed
    forged = copy.deepcopy(bundle)
    entry = forged["validator_changes"][0]["entries"][0]
    entry["value"] = entry["value"][:-2] + ("00" if entry["value"][-2:] != "00" else "01")
    with pytest.raises(CredentialError, match="validator change 1: .*state proof for key"):
        verify_credential(forged, chain.genesis, chain.genesis_hash)


def test_dataclass_replace_keeps_records_valid(changed):
    chain, _, _ = changed
    header = chain.store.block(1).header  # type: ignore[union-attr]
    assert dataclasses.replace(header, time=1).time == 1
