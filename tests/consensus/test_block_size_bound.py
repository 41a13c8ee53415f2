"""The protocol's block-size bound keeps every NEW-VIEW decodable.

A NEW-VIEW carries 2f+1 VIEW-CHANGEs, each with at most one prepared block, and
its own PRE-PREPARE: with blocks of ``max_block_bytes(n)`` and full vote lists it
must still fit ``MAX_MESSAGE_BYTES``, or a prepared block could never reach the
next view.
"""

from __future__ import annotations

import pytest

from chain.crypto import get_suite
from chain.types import Block, BlockHeader, Vote, sign_tx
from consensus.messages import (
    MAX_MESSAGE_BYTES,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
    max_block_bytes,
)

SUITE = get_suite("ed25519-sha256")
KEY = SUITE.signer_from_seed(bytes(range(32)))


def block_of(size: int) -> Block:
    """A block whose encoding is exactly ``size`` bytes (one tx with a bytes body)."""
    header = BlockHeader("jx", 9, 3, 10**9, *[bytes(32)] * 2, *[bytes(32)] * 4)

    def make(filler: int) -> Block:
        tx = sign_tx(KEY, "jx", "learning.record_sessions", 1, 10, [b"x" * filler])
        return Block(header, (tx,))

    probe = make(size)
    block = make(size - (len(probe.encode()) - size))
    assert len(block.encode()) == size
    return block


@pytest.mark.parametrize("validators", [4, 13])
def test_a_new_view_of_largest_blocks_and_full_quorums_fits_one_message(validators):
    f = (validators - 1) // 3
    quorum = 2 * f + 1
    block = block_of(max_block_bytes(validators))
    votes = tuple(Vote(1, 9, 2, bytes(32), KEY.public_key, bytes(64)) for _ in range(validators))
    view_changes = tuple(
        ViewChange(9, 3, 8, PreparedCertificate(2, block, votes), KEY.public_key, bytes(64))
        for _ in range(quorum)
    )
    pre_prepare = PrePrepare(9, 3, block, KEY.public_key, bytes(64))
    raw = encode_message(NewView(9, 3, view_changes, pre_prepare, KEY.public_key, bytes(64)))
    assert len(raw) <= MAX_MESSAGE_BYTES
    assert decode_message(raw).view == 3


def test_the_bound_shrinks_as_the_quorum_grows():
    sizes = [max_block_bytes(n) for n in (1, 4, 7, 10, 13, 16)]
    assert sizes == sorted(sizes, reverse=True)
    assert max_block_bytes(4) > 3 * 2**20 and max_block_bytes(13) > 1.5 * 2**20
