"""Shared fixtures: one honest in-process chain built from the demo workload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.types import Block, CommitCertificate
from node.audit.source import Fetched
from tests.audit.devchain import DevChain, run_workload

Pair = tuple[Block, CommitCertificate | None]


class ListSource:
    """A block source over a list (tests tamper with the list)."""

    def __init__(self, pairs: list[Pair]) -> None:
        self.pairs = pairs

    def head(self) -> int:
        return len(self.pairs)

    def fetch(self, start: int, end: int) -> list[Fetched]:
        return [Fetched(b, c, b.encode()) for b, c in self.pairs[start - 1 : end]]

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def dev_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevChain]:
    """60 trainees of the demo workload, 25 txs per block (about 20 blocks)."""
    chain = DevChain.create(tmp_path_factory.mktemp("devchain"))
    chain.workload = run_workload(chain, trainees=60, per_block=25)  # type: ignore[attr-defined]
    yield chain
    chain.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "audit-data"
