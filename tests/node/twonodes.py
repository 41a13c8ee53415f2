"""Two real ``Node`` objects (executors and mempools, no network) beside a
``DevChain`` reference that always re-parses and never speculates: for tests of
what a node may skip (parsing, execution) without changing any outcome."""

from __future__ import annotations

from pathlib import Path

from chain.types import Tx, tx_hash
from cli.workload import Workload
from node.runtime import Node
from tests.audit.devchain import DevChain

__all__ = ["Net"]


class Net:
    def __init__(self, root: Path) -> None:
        self.chain = DevChain.create(root)
        self.nodes = [Node(root / "net" / f"node{i}") for i in (0, 1)]
        self.workload = Workload(root / "net", [], trainees=12, progress=lambda _: None)
        self.workload.now = self.chain.time_s - 1
        self.suite = self.chain.genesis.suite
        w = self.workload
        for txs in ([w.demo_policy()], w.open_classes(), w.enrol() + w.attest()):
            assert all(r.code == "" for r in self.chain.commit(txs))
            block, cert = self.chain.pairs()[-1]
            for node in self.nodes:
                node.on_committed(node.executor.commit(block, cert))

    @property
    def proposer(self) -> bytes:
        return self.chain.executor.validator_set().validators[0].public_key

    def hashes(self, txs: list[Tx]) -> list[bytes]:
        return [tx_hash(self.suite, tx) for tx in txs]

    def close(self) -> None:
        for node in self.nodes:
            node.store.close()
        self.chain.close()
