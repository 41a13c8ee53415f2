"""Roots a header commits to, and the checks that a block matches its header.

These are pure functions shared by the proposer (to fill a header), every
replica (to check a proposal before voting) and the auditor's replay.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.crypto import CryptoSuite
from chain.errors import DecodeError
from chain.merkle import merkle_root
from chain.types import Block, Receipt, Tx, receipt_leaf, tx_hash

__all__ = ["check_tx_root", "receipts_root", "tx_root"]


def tx_root(suite: CryptoSuite, txs: Sequence[Tx], hashes: Sequence[bytes] | None = None) -> bytes:
    """Merkle root over the txs' hashes (pass ``hashes`` when already known)."""
    if hashes is None:
        hashes = [tx_hash(suite, tx) for tx in txs]
    return merkle_root(suite, hashes)


def receipts_root(suite: CryptoSuite, receipts: Sequence[Receipt]) -> bytes:
    """Merkle root over the receipts, in tx order."""
    return merkle_root(suite, [receipt_leaf(r) for r in receipts])


def check_tx_root(suite: CryptoSuite, block: Block) -> list[bytes]:
    """Raise ``DecodeError`` unless the txs match the header's ``tx_root``; return tx hashes.

    A body that does not match its header is garbage from whoever sent it,
    whatever the certificate says.
    """
    hashes = [tx_hash(suite, tx) for tx in block.txs]
    if len(set(hashes)) != len(hashes):
        raise DecodeError(f"block {block.header.height} lists a tx twice")
    if tx_root(suite, block.txs, hashes) != block.header.tx_root:
        raise DecodeError(f"block {block.header.height}: txs do not match the header's tx_root")
    return hashes
