"""State proofs: does ``key -> value`` (or ``key`` absent) hold under a state root?

Pure and self-contained: an auditor checks a proof with this module and
``chain.crypto`` alone, never with the node's storage code.

The logical tree
----------------
The state is a binary sparse Merkle tree over the 256 bits of
``key_hash = suite.hash(key)`` (most significant bit of byte 0 first), with
one compression rule: **a subtree holding exactly one leaf hashes as that
leaf** (the leaf "floats up" to the highest position where it is alone).
Hashes, each under its own domain tag so that no two kinds can collide::

    value_hash = H_value(value)
    leaf       = H_leaf(key_hash || value_hash)
    internal   = H_node(left || right)          (only for >= 2 leaves below)
    empty      = 32 zero bytes                  (the placeholder)

The empty tree's root is the placeholder; a one-key tree's root is its leaf.
(The node stores this tree physically as 16-ary nodes; see
``storage.state_tree``. The hashes are those of the logical binary tree.)

What a proof holds
------------------
Walking from the root along ``key_hash``'s bits, the proof stops at depth
``depth``, where the key's path meets a subtree of at most one leaf: the
key's own leaf (inclusion), another key's leaf that shares the first
``depth`` bits (exclusion), or an empty subtree (exclusion). It carries:

* ``depth`` and ``bitmap`` -- bit ``i`` (MSB first) is set when the sibling at
  depth ``i`` is not the placeholder. Most siblings near the bottom are empty,
  so only the non-empty ones are sent, in root-to-leaf order in ``siblings``;
* ``leaf`` -- ``(key_hash, value_hash)`` of the leaf found there, or ``None``.

A proof has exactly one encoding: no sibling equals the placeholder, unused
bitmap bits are zero, and the deepest sibling is non-empty (an empty one
would have made the leaf float higher). Wire form, canonical-codec lists::

    [depth, bitmap, [sibling, ...], [] | [leaf_key_hash, leaf_value_hash]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chain.crypto import TAG_STATE_LEAF, TAG_STATE_NODE, TAG_STATE_VALUE, CryptoSuite
from chain.errors import DecodeError, ProofError

__all__ = ["HASH_BYTES", "MAX_DEPTH", "PLACEHOLDER", "StateProof", "verify_state_proof"]

HASH_BYTES: Final = 32
MAX_DEPTH: Final = 256
"""A path never runs deeper than the bits of a key hash."""
PLACEHOLDER: Final = bytes(HASH_BYTES)
"""Hash of an empty subtree, and the root of the empty state."""


@dataclass(frozen=True, slots=True)
class StateProof:
    """Siblings along one key's path, plus the leaf (if any) where the path ends."""

    depth: int
    bitmap: bytes
    siblings: tuple[bytes, ...]
    leaf: tuple[bytes, bytes] | None

    def to_wire(self) -> list:
        """Plain lists for the canonical codec (see the module docstring)."""
        leaf = [] if self.leaf is None else [self.leaf[0], self.leaf[1]]
        return [self.depth, self.bitmap, list(self.siblings), leaf]

    @classmethod
    def from_wire(cls, value: object) -> StateProof:
        """Rebuild from decoded wire lists; any deviation raises ``DecodeError``."""
        if not isinstance(value, list) or len(value) != 4:
            raise DecodeError("state proof: expected a list of 4 fields")
        depth, bitmap, siblings, leaf = value
        if not isinstance(siblings, list) or not isinstance(leaf, list):
            raise DecodeError("state proof: siblings and leaf must be lists")
        if len(leaf) not in (0, 2):
            raise DecodeError("state proof: leaf must be [] or [key_hash, value_hash]")
        proof = cls(depth, bitmap, tuple(siblings), (leaf[0], leaf[1]) if leaf else None)
        problem = shape_problem(proof)
        if problem is not None:
            raise DecodeError(f"state proof: {problem}")
        return proof


def shape_problem(proof: StateProof) -> str | None:
    """What makes ``proof`` malformed (not one canonical proof), or None."""
    depth, bitmap = proof.depth, proof.bitmap
    if type(depth) is not int or not 0 <= depth <= MAX_DEPTH:
        return f"depth must be an int in 0..{MAX_DEPTH}"
    if type(bitmap) is not bytes or len(bitmap) != (depth + 7) // 8:
        return f"bitmap must be {(depth + 7) // 8} bytes for depth {depth}"
    bits = int.from_bytes(bitmap, "big")
    if bits & ((1 << (len(bitmap) * 8 - depth)) - 1):
        return "bitmap has bits set beyond the depth"
    if depth and not bits >> (len(bitmap) * 8 - depth) & 1:
        return "the deepest sibling is empty (the leaf would float higher)"
    if type(proof.siblings) is not tuple or len(proof.siblings) != bits.bit_count():
        return "the number of siblings differs from the bitmap"
    for sibling in proof.siblings:
        if type(sibling) is not bytes or len(sibling) != HASH_BYTES or sibling == PLACEHOLDER:
            return f"every sibling must be a non-placeholder {HASH_BYTES}-byte hash"
    leaf = proof.leaf
    if leaf is not None and not _is_leaf_pair(leaf):
        return f"leaf must be two {HASH_BYTES}-byte hashes"
    return None


def _is_leaf_pair(leaf: object) -> bool:
    return (
        type(leaf) is tuple
        and len(leaf) == 2
        and all(type(part) is bytes and len(part) == HASH_BYTES for part in leaf)
    )


def verify_state_proof(
    suite: CryptoSuite, root: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> None:
    """Raise ``ProofError`` unless ``proof`` shows ``key -> value`` under ``root``.

    ``value=None`` asks for an exclusion proof: ``key`` is absent from the state.
    """
    problem = shape_problem(proof)
    if problem is not None:
        raise ProofError(f"malformed state proof: {problem}")
    key_hash = suite.hash(key)
    start = _start_hash(suite, key_hash, value, proof)
    if _fold(suite, key_hash, start, proof) != root:
        raise ProofError("state proof leads to a different root")


def _start_hash(
    suite: CryptoSuite, key_hash: bytes, value: bytes | None, proof: StateProof
) -> bytes:
    """The hash at the bottom of the path, after checking the leaf fits the claim."""
    leaf = proof.leaf
    if value is not None:
        if leaf is None:
            raise ProofError("state proof shows the key absent, not holding the value")
        if leaf[0] != key_hash:
            raise ProofError("state proof ends at another key's leaf: the key is absent")
        if leaf[1] != suite.hasher(TAG_STATE_VALUE)(value):
            raise ProofError("state proof shows the key holding a different value")
    elif leaf is None:
        return PLACEHOLDER
    elif leaf[0] == key_hash:
        raise ProofError("state proof shows the key present, not absent")
    elif _shared_bits(leaf[0], key_hash) < proof.depth:
        raise ProofError("state proof's leaf does not lie on the key's path")
    return suite.hasher(TAG_STATE_LEAF)(leaf[0] + leaf[1])


def _shared_bits(a: bytes, b: bytes) -> int:
    """Length of the common bit prefix of two equal-length hashes."""
    diff = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return len(a) * 8 - diff.bit_length()


def _fold(suite: CryptoSuite, key_hash: bytes, current: bytes, proof: StateProof) -> bytes:
    """Hash from depth ``proof.depth`` up to the root along ``key_hash``'s bits."""
    node = suite.hasher(TAG_STATE_NODE)
    path = int.from_bytes(key_hash, "big")
    bits = int.from_bytes(proof.bitmap, "big") >> (len(proof.bitmap) * 8 - proof.depth)
    siblings = proof.siblings
    index = len(siblings)
    top = len(key_hash) * 8 - 1
    for depth in range(proof.depth - 1, -1, -1):
        if bits & 1:
            index -= 1
            sibling = siblings[index]
        else:
            sibling = PLACEHOLDER
        bits >>= 1
        right = path >> (top - depth) & 1
        current = node(sibling + current) if right else node(current + sibling)
    return current
