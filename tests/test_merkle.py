"""Merkle roots and audit paths over txs and receipts."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.codec import decode, encode
from chain.crypto import TAG_MERKLE_LEAF, TAG_MERKLE_NODE, get_suite
from chain.errors import DecodeError, ProofError
from chain.merkle import MerkleProof, merkle_proof, merkle_root, verify_merkle_proof

SUITE = get_suite("ed25519-sha256")
leaf_lists = st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=40)


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's recursive definition, written the slow and obvious way."""
    if len(leaves) == 1:
        return SUITE.tagged_hash(TAG_MERKLE_LEAF, leaves[0])
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    left, right = reference_root(leaves[:split]), reference_root(leaves[split:])
    return SUITE.tagged_hash(TAG_MERKLE_NODE, left + right)


@given(leaf_lists)
def test_root_matches_rfc9162_recursion(leaves):
    assert merkle_root(SUITE, leaves) == reference_root(leaves)


def test_empty_root_is_zero():
    assert merkle_root(SUITE, []) == bytes(32)


@settings(max_examples=100)
@given(leaf_lists, st.data())
def test_every_proof_verifies_and_tampering_fails(leaves, data):
    root = merkle_root(SUITE, leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle_proof(SUITE, leaves, index)
    verify_merkle_proof(SUITE, root, leaves[index], proof)
    assert MerkleProof.decode(encode(proof.to_wire())) == proof

    with pytest.raises(ProofError):
        verify_merkle_proof(SUITE, root, leaves[index] + b"!", proof)
    if proof.path:
        bad_path = list(proof.path)
        bad_path[0] = bytes(32)
        with pytest.raises(ProofError):
            verify_merkle_proof(
                SUITE, root, leaves[index], MerkleProof(index, len(leaves), tuple(bad_path))
            )
        with pytest.raises(ProofError):
            verify_merkle_proof(
                SUITE, root, leaves[index], MerkleProof(index, len(leaves), proof.path[:-1])
            )
    with pytest.raises(ProofError):
        verify_merkle_proof(
            SUITE, root, leaves[index], MerkleProof(index, len(leaves), proof.path + (bytes(32),))
        )
    if len(leaves) > 1:
        other = (index + 1) % len(leaves)
        if leaves[other] != leaves[index]:
            with pytest.raises(ProofError):
                verify_merkle_proof(
                    SUITE, root, leaves[index], MerkleProof(other, len(leaves), proof.path)
                )


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_garbage_proof_bytes_raise_only_decode_error(data):
    with contextlib.suppress(DecodeError):
        MerkleProof.from_wire(decode(data))


def test_proof_with_index_outside_size_is_refused_at_decode():
    with pytest.raises(DecodeError, match="index"):
        MerkleProof.from_wire([5, 5, []])
