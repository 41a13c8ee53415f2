"""An in-process chain with development keys, for audit tests and the replay benchmark.

Every validator key of a ``--dev-keys`` network is derived from a public label,
so this module can certify any header it likes: tests use that to forge chains
that signatures cannot catch (a wrong state root under a full quorum), and the
benchmark uses it to build a large, honest chain without a network (blocks
are executed by the node's own ``Executor``; certificates carry a quorum of
real Ed25519 COMMIT signatures). The txs come from the demo workload's own
builders (``cli.workload.Workload``), so the chain looks like the demo's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from chain.genesis import Genesis, load_genesis
from chain.types import Block, BlockHeader, CommitCertificate, Receipt, Tx, header_hash, tx_hash
from chain.validators import ValidatorSet, build_certificate, sign_commit
from cli.jiangxi import dev_signer
from cli.netgen import new_network
from cli.workload import DEMO_PUBLICITY_S, Workload
from node.executor import Executor
from storage.store import Store

__all__ = ["DevChain", "forge_certificate", "run_workload"]


@dataclass
class DevChain:
    """A single-process chain: propose, certify with dev keys, commit."""

    root: Path
    genesis: Genesis
    genesis_hash: bytes
    store: Store
    executor: Executor
    time_s: int = field(default_factory=lambda: int(time.time()) - 600)
    """Block time; starts in the recent past so the workload's wall-clock dates fit."""

    @classmethod
    def create(cls, root: Path, validators: int = 4) -> DevChain:
        new_network(root / "net", validators, base_port=40000, dev_keys=True)
        genesis, genesis_hash = load_genesis(root / "net" / "genesis.json")
        store = Store.open(root / "data", genesis.suite, genesis.chain_id, genesis_hash)
        return cls(root, genesis, genesis_hash, store, Executor(store, genesis, genesis_hash))

    @property
    def genesis_path(self) -> Path:
        return self.root / "net" / "genesis.json"

    def commit(self, txs: list[Tx], advance_s: int = 1) -> list[Receipt]:
        """Execute ``txs`` as the next block, certify it with a quorum and commit it."""
        self.time_s += advance_s
        valset = self.executor.validator_set()
        proposer = valset.validators[0].public_key
        pairs = [(tx, tx_hash(self.genesis.suite, tx)) for tx in txs]
        execution = self.executor.propose(0, self.time_s, proposer, pairs)
        cert = forge_certificate(self.genesis, execution.block.header, valset.quorum, valset)
        self.executor.commit(execution.block, cert)
        return execution.receipts

    def pairs(self) -> list[tuple[Block, CommitCertificate]]:
        """Every committed (block, certificate), as a block source returns them."""
        out = []
        for height in range(1, self.store.head.height + 1):
            block, cert = self.store.block(height), self.store.certificate(height)
            assert block is not None and cert is not None
            out.append((block, cert))
        return out

    def close(self) -> None:
        self.store.close()


def forge_certificate(
    genesis: Genesis, header: BlockHeader, count: int | None = None,
    valset: ValidatorSet | None = None,
) -> CommitCertificate:
    """A certificate over ``header`` signed by the first ``count`` members of ``valset``
    (default: the genesis set), with their development keys."""
    valset = valset or genesis.validator_set()
    signers = {s.public_key: s for s in
               (dev_signer(f"validator/{v.region_code}") for v in valset.validators)}
    digest = header_hash(genesis.suite, header)
    chosen = valset.validators[: count or len(valset)]
    signatures = {
        v.public_key: sign_commit(signers[v.public_key], genesis.chain_id, header.height,
                                  header.view, digest)
        for v in chosen
    }
    return build_certificate(valset, header.height, header.view, digest, signatures)


def run_workload(chain: DevChain, trainees: int, per_block: int = 200) -> Workload:
    """Drive the demo workload's phases through ``chain`` (no network)."""
    workload = Workload(chain.root / "net", [], trainees=trainees, progress=lambda _: None)
    workload.now = chain.time_s - 1
    phases = [[workload.demo_policy()], workload.open_classes(),
              workload.enrol() + workload.attest(), workload.sessions()]
    for txs in phases:
        _commit_all(chain, txs, per_block)
    practice = workload.practice_and_certificates()  # dated by the wall clock
    chain.time_s = max(chain.time_s, int(time.time()))
    _commit_all(chain, practice, per_block)
    claims = workload.file_claims()
    receipts = _commit_all(chain, claims, per_block)
    accepted = [(tx_hash(chain.genesis.suite, tx), _city(workload, tx))
                for tx, r in zip(claims, receipts, strict=True) if r.status == 0]
    for step in ("approve_claim", "publicise_claim"):
        _commit_all(chain, [workload.tx(f"bureau-{city}", f"settlement.{step}", [c])
                            for c, city in accepted], per_block)
    chain.time_s += DEMO_PUBLICITY_S + 2
    _commit_all(chain, [workload.tx(f"bureau-{city}", "settlement.pay_claim", [c, bytes(32)])
                        for c, city in accepted], per_block)
    _commit_all(chain, workload.double_claims(), per_block)
    return workload


def _city(workload: Workload, tx: Tx) -> str:
    class_id = tx.body[1]
    return next(p.city for p in workload.classes if p.class_id == class_id)


def _commit_all(chain: DevChain, txs: list[Tx], per_block: int) -> list[Receipt]:
    receipts: list[Receipt] = []
    for i in range(0, len(txs), per_block):
        receipts += chain.commit(txs[i : i + per_block])
    return receipts
