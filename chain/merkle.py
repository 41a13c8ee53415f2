"""Binary Merkle roots over a block's txs and receipts, with inclusion proofs.

The shape is RFC 9162's (Certificate Transparency): the left subtree holds the
largest power of two below n leaves, so any list has exactly one tree, and an
audit path of ceil(log2 n) hashes proves one leaf. Leaves and inner nodes use
different tags, so an inner node can never pose as a leaf. The root of an
empty list is ``ZERO_HASH``.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.crypto import TAG_MERKLE_LEAF, TAG_MERKLE_NODE, CryptoSuite
from chain.errors import DecodeError, ProofError
from chain.records import Record, record

__all__ = ["MerkleProof", "merkle_proof", "merkle_root", "verify_merkle_proof"]

_ZERO = bytes(32)


def merkle_root(suite: CryptoSuite, leaves: Sequence[bytes]) -> bytes:
    """Root over leaf data (each leaf is hashed with the leaf tag first)."""
    if not leaves:
        return _ZERO
    leaf = suite.hasher(TAG_MERKLE_LEAF)
    node = suite.hasher(TAG_MERKLE_NODE)
    level = [leaf(data) for data in leaves]
    return _root_of_hashes(level, node)


def _root_of_hashes(hashes: list[bytes], node) -> bytes:  # noqa: ANN001 - hot helper
    # Bottom-up pairing reproduces RFC 9162's split: an odd last node is
    # carried up unchanged, which is what "largest power of two on the left" means.
    while len(hashes) > 1:
        paired = [node(hashes[i] + hashes[i + 1]) for i in range(0, len(hashes) - 1, 2)]
        if len(hashes) % 2:
            paired.append(hashes[-1])
        hashes = paired
    return hashes[0]


@record
class MerkleProof(Record):
    """Audit path for leaf ``index`` of ``size`` leaves, bottom sibling first."""

    index: int
    size: int
    path: tuple[bytes, ...]

    def _check(self) -> None:
        if self.index >= self.size or len(self.path) > 64:
            raise DecodeError("MerkleProof: index outside size or path too long")
        if any(len(h) != 32 for h in self.path):
            raise DecodeError("MerkleProof: path hashes must be 32 bytes")


def merkle_proof(suite: CryptoSuite, leaves: Sequence[bytes], index: int) -> MerkleProof:
    """The audit path of ``leaves[index]``."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} outside 0..{len(leaves) - 1}")
    leaf = suite.hasher(TAG_MERKLE_LEAF)
    node = suite.hasher(TAG_MERKLE_NODE)
    level = [leaf(data) for data in leaves]
    path: list[bytes] = []
    position = index
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        paired = [node(level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
        position //= 2
    return MerkleProof(index, len(leaves), tuple(path))


def verify_merkle_proof(
    suite: CryptoSuite, root: bytes, leaf_data: bytes, proof: MerkleProof
) -> None:
    """Raise ``ProofError`` unless ``leaf_data`` sits at ``proof.index`` under ``root``."""
    if not 0 <= proof.index < proof.size:
        raise ProofError("leaf index outside the tree size")
    node = suite.hasher(TAG_MERKLE_NODE)
    current = suite.hasher(TAG_MERKLE_LEAF)(leaf_data)
    position, width = proof.index, proof.size
    remaining = list(proof.path)
    while width > 1:
        if position ^ 1 < width:
            if not remaining:
                raise ProofError("audit path too short for the tree size")
            sibling = remaining.pop(0)
            current = node(sibling + current) if position & 1 else node(current + sibling)
        position //= 2
        width = (width + 1) // 2
    if remaining:
        raise ProofError("audit path longer than the tree needs")
    if current != root:
        raise ProofError("leaf and audit path do not lead to the root")
