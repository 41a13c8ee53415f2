"""The proposal preview: the txs a primary is about to propose, named by hash.

A primary sends ``["p", Preview]`` to every replica before it executes its
block, so replicas can execute the same txs at once (``Executor.speculate``;
see ``node.consensus_driver``). A preview is a hint and never a vote: it
carries no signature, is taken only from the link of the primary of the
receiver's current (height, view), and a wrong one wastes one execution.
"""

from __future__ import annotations

from chain.errors import DecodeError
from chain.records import Bytes32, Record, record

__all__ = ["MAX_PREVIEW_TXS", "Preview"]

MAX_PREVIEW_TXS = 100_000
"""No block holds more txs (``NodeConfig.max_block_txs`` is at most this)."""


@record
class Preview(Record):
    """(height, view, block time, tx hashes in block order) of a coming proposal."""

    height: int
    view: int
    time: int
    tx_hashes: tuple[Bytes32, ...]

    def _check(self) -> None:
        if not 0 < len(self.tx_hashes) <= MAX_PREVIEW_TXS:
            raise DecodeError(f"preview: 1 to {MAX_PREVIEW_TXS} tx hashes")
