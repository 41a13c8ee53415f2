"""Wire records: strict shapes, canonical bytes, only DecodeError for garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.codec import decode, encode
from chain.crypto import get_suite
from chain.errors import DecodeError
from chain.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Event,
    Receipt,
    Tx,
    Vote,
    header_hash,
    sign_tx,
)
from tests.strategies import values

SUITE = get_suite("ed25519-sha256")
KEY = SUITE.signer_from_seed(bytes(32))
h32 = st.binary(min_size=32, max_size=32)
u64 = st.integers(0, 2**64 - 1)

headers = st.builds(
    BlockHeader,
    st.text(max_size=10),
    u64,
    u64,
    u64,
    h32,
    st.binary(max_size=33),
    h32,
    h32,
    h32,
    h32,
)
txs = st.builds(
    Tx,
    st.text(max_size=10),
    st.text(max_size=20),
    st.binary(max_size=32),
    u64,
    u64,
    values,
    st.binary(max_size=64),
)
blocks = st.builds(Block, headers, st.lists(txs, max_size=3).map(tuple))
votes = st.builds(
    Vote, st.integers(0, 3), u64, u64, h32, st.binary(max_size=32), st.binary(max_size=64)
)
certs = st.builds(
    CommitCertificate,
    u64,
    u64,
    h32,
    st.binary(max_size=4),
    st.lists(st.binary(max_size=64), max_size=4).map(tuple),
)
receipts = st.builds(
    Receipt,
    st.integers(0, 1),
    st.text(max_size=20),
    st.lists(st.builds(Event, st.text(max_size=10), values), max_size=3).map(tuple),
)
records = st.one_of(headers, txs, blocks, votes, certs, receipts)


@given(records)
def test_record_round_trip_is_exact(rec):
    data = rec.encode()
    again = type(rec).decode(data)
    assert again == rec
    assert again.encode() == data


@pytest.mark.parametrize("cls", [BlockHeader, Tx, Block, Vote, CommitCertificate, Receipt])
@settings(max_examples=100)
@given(values)
def test_any_value_into_any_record_raises_only_decode_error(cls, value):
    with contextlib.suppress(DecodeError):
        cls.from_wire(value)


@settings(max_examples=200)
@given(blocks, st.data())
def test_mutated_block_bytes_raise_only_decode_error(block, data):
    raw = bytearray(block.encode())
    raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(DecodeError):
        Block.decode(bytes(raw))


def test_wrong_arity_and_types_are_named():
    tx = sign_tx(KEY, "c", "test.put", 1, 2, [])
    wire = tx.to_wire()
    with pytest.raises(DecodeError, match="expected 7 fields"):
        Tx.from_wire(wire[:-1])
    wire[3] = "1"
    with pytest.raises(DecodeError, match=r"Tx.nonce: expected int"):
        Tx.from_wire(wire)
    with pytest.raises(DecodeError, match="negative"):
        Tx.from_wire([*tx.to_wire()[:3], -1, *tx.to_wire()[4:]])


def test_digest_fields_must_be_32_bytes():
    header = BlockHeader("c", 1, 0, 0, bytes(32), b"p", bytes(32), bytes(32), bytes(32), bytes(32))
    wire = header.to_wire()
    wire[4] = bytes(31)
    with pytest.raises(DecodeError, match="parent_hash: expected 32 bytes"):
        BlockHeader.from_wire(wire)


def test_header_hash_changes_with_every_field():
    base = BlockHeader("c", 1, 0, 0, bytes(32), b"p", bytes(32), bytes(32), bytes(32), bytes(32))
    seen = {header_hash(SUITE, base)}
    wire = base.to_wire()
    for i, value in enumerate(wire):
        changed = list(wire)
        if isinstance(value, int):
            changed[i] = value + 1
        elif isinstance(value, bytes):
            changed[i] = bytes([1]) + value[1:] if value else b"x"
        else:
            changed[i] = value + "x"
        seen.add(header_hash(SUITE, BlockHeader.from_wire(changed)))
    assert len(seen) == len(wire) + 1


def test_bool_is_not_an_int_field():
    with pytest.raises(DecodeError):
        Vote.from_wire([True, 1, 0, bytes(32), b"", b""])


def test_encode_of_record_equals_codec_of_wire():
    tx = sign_tx(KEY, "c", "test.put", 1, 2, [b"a", 1, None])
    assert tx.encode() == encode(tx.to_wire())
    assert Tx.from_wire(decode(tx.encode())) == tx
