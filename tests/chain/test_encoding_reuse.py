"""Kept tx encodings: every fast path gives the generic ``encode`` bytes, byte for byte.

A tx keeps the canonical bytes it was decoded from (or was first encoded to),
and blocks, journal records and messages splice those bytes in rather than
encode the tx again (``chain.records``). Hashes and signatures are taken over
these bytes, so the reference here is always the generic path:
``encode(record.to_wire())``, ``encode([kind, msg.to_wire()])`` and
``encode`` of a tx's first six fields. Counts of 0, 1, 15, 16 and 17 txs and
of 70,000 cross the msgpack array header forms (fixarray, array 16, array 32).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.blocks import check_tx_root, tx_root
from chain.codec import encode
from chain.crypto import TAG_TX, get_suite
from chain.errors import DecodeError
from chain.records import Record, array_header
from chain.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Tx,
    sign_tx,
    tx_hash,
    tx_payload,
    verify_tx_signature,
)
from consensus.actions import Prepared, decode_journal, encode_journal
from consensus.messages import (
    CatchUpResponse,
    CertifiedBlock,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
    signed_payload,
)
from tests.strategies import values

SUITE = get_suite("ed25519-sha256")
OTHER_SUITE = get_suite("sm2-sm3")
KEY = SUITE.signer_from_seed(bytes(range(32)))

MESSAGE_KINDS = {PrePrepare: 1, ViewChange: 3, NewView: 4, CatchUpResponse: 6}
JOURNAL_KINDS = {PrePrepare: 1, ViewChange: 3, NewView: 4, Prepared: 10}
HEADER_BOUNDARY_COUNTS = [0, 1, 15, 16, 17]

u64 = st.integers(0, 2**64 - 1)
h32 = st.binary(min_size=32, max_size=32)
# Signature lengths around the bin 8 / bin 16 / bin 32 boundaries, which the
# payload slice must cut exactly.
signatures = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([0, 255, 256, 65535, 65536]).map(lambda n: b"\x5a" * n),
)
memory_txs = st.builds(
    Tx,
    st.text(max_size=10),
    st.text(max_size=20),
    st.binary(max_size=33),
    u64,
    u64,
    values,
    signatures,
)


def generic_tx_payload(tx: Tx) -> bytes:
    return encode([tx.chain_id, tx.kind, tx.sender, tx.nonce, tx.expires, tx.body])


def generic(rec: Record) -> bytes:
    return encode(rec.to_wire())


def as_form(tx: Tx, form: str) -> Tx:
    """The same tx as it may reach a node: built, decoded, or encoded once already."""
    if form == "decoded":
        return Tx.decode(generic(tx))
    if form == "memoized":
        tx.encode()
    return tx


@st.composite
def any_txs(draw: st.DrawFn) -> Tx:
    return as_form(draw(memory_txs), draw(st.sampled_from(["memory", "decoded", "memoized"])))


def header_at(height: int) -> st.SearchStrategy[BlockHeader]:
    return st.builds(
        BlockHeader,
        st.text(max_size=8),
        st.just(height),
        u64,
        u64,
        h32,
        st.binary(max_size=33),
        h32,
        h32,
        h32,
        h32,
    )


@st.composite
def blocks(draw: st.DrawFn, height: int = 7, counts: list[int] | None = None) -> Block:
    count = draw(st.sampled_from(counts or HEADER_BOUNDARY_COUNTS))
    txs = draw(st.lists(any_txs(), min_size=count, max_size=count))
    return Block(draw(header_at(height)), tuple(txs))


def txs_in(value: object) -> Iterator[Tx]:
    """Every tx inside a record, depth first."""
    if isinstance(value, Tx):
        yield value
    elif isinstance(value, Record):
        for name in value._fields:
            yield from txs_in(getattr(value, name))
    elif isinstance(value, tuple):
        for item in value:
            yield from txs_in(item)


def assert_kept_bytes_are_canonical(rec: Record) -> None:
    for tx in txs_in(rec):
        assert tx._encoded == generic(tx)


# -- txs ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(memory_txs)
def test_tx_payload_bytes_and_hash_match_the_generic_path(tx):
    data = generic(tx)
    for form in ("memory", "decoded", "memoized"):
        copy = as_form(dataclasses.replace(tx), form)
        assert copy.encode() == data
        assert tx_payload(copy) == generic_tx_payload(tx)
        assert tx_hash(SUITE, copy) == SUITE.tagged_hash(TAG_TX, generic_tx_payload(tx))
        assert tx_hash(SUITE, copy) == tx_hash(SUITE, copy)  # the kept hash
    decoded = Tx.decode(data)
    assert decoded._encoded == data and decoded == tx


@settings(max_examples=100, deadline=None)
@given(values, st.text(max_size=10), u64, u64)
def test_a_signed_tx_keeps_the_generic_bytes_and_verifies(body, kind, nonce, expires):
    tx = sign_tx(KEY, "chain-a", kind, nonce, expires, body)
    assert tx._encoded == generic(tx)
    assert tx_payload(tx) == generic_tx_payload(tx)
    assert verify_tx_signature(SUITE, tx)
    assert verify_tx_signature(SUITE, Tx.decode(tx.encode()))
    assert not verify_tx_signature(SUITE, dataclasses.replace(tx, nonce=nonce ^ 1))


def test_the_kept_hash_belongs_to_one_suite():
    tx = Tx.decode(sign_tx(KEY, "chain-a", "t.x", 1, 2, [1, [b"x"]]).encode())
    payload = generic_tx_payload(tx)
    assert tx_hash(SUITE, tx) == SUITE.tagged_hash(TAG_TX, payload)
    assert tx_hash(OTHER_SUITE, tx) == OTHER_SUITE.tagged_hash(TAG_TX, payload)
    assert tx_hash(SUITE, tx) == SUITE.tagged_hash(TAG_TX, payload)


def test_a_tx_with_a_non_bytes_signature_still_gets_the_generic_payload():
    tx = Tx("c", "k", b"s", 1, 2, [1], "not bytes")  # type: ignore[arg-type]
    assert tx_payload(tx) == generic_tx_payload(tx)


# -- kept bytes can never disagree with the fields -----------------------------------


def test_replace_and_construction_give_a_tx_without_kept_bytes():
    original = sign_tx(KEY, "chain-a", "t.x", 5, 9, [[1, 2], "three"])
    decoded = Tx.decode(original.encode())
    tx_hash(SUITE, decoded)
    assert decoded._encoded is not None and decoded._hash is not None
    for changed in (
        dataclasses.replace(decoded),
        dataclasses.replace(decoded, nonce=6),
        dataclasses.replace(decoded, body=[[1, 2], "four"]),
        dataclasses.replace(decoded, signature=b""),
        Tx(*[getattr(decoded, name) for name in Tx._fields]),
    ):
        assert changed._encoded is None and changed._hash is None
        assert changed.encode() == generic(changed)
        assert tx_payload(changed) == generic_tx_payload(changed)
        assert tx_hash(SUITE, changed) == SUITE.tagged_hash(TAG_TX, generic_tx_payload(changed))
    assert tx_hash(SUITE, dataclasses.replace(decoded, nonce=6)) != tx_hash(SUITE, decoded)


def test_kept_bytes_are_no_field():
    tx = Tx.decode(sign_tx(KEY, "chain-a", "t.x", 5, 9, [1]).encode())
    fields = ["chain_id", "kind", "sender", "nonce", "expires", "body", "signature"]
    assert list(Tx._fields) == fields
    assert len(tx.to_wire()) == 7
    assert "_encoded" not in repr(tx) and "_hash" not in repr(tx)
    assert tx == dataclasses.replace(tx)  # equality ignores the memos
    with pytest.raises(TypeError):
        Tx(*tx.to_wire(), b"forged")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Tx(*tx.to_wire(), _encoded=b"forged")  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        dataclasses.replace(tx, _encoded=b"forged")
    with pytest.raises(DecodeError):
        Tx.from_wire([*tx.to_wire(), b"forged"])


def test_decoding_stays_strict_for_txs_inside_blocks():
    tx = sign_tx(KEY, "chain-a", "t.x", 5, 9, [1])
    wire = tx.to_wire()
    # nonce 5 spelled as a uint64: same value, non-canonical bytes
    loose = b"".join(
        [b"\x97", *map(encode, wire[:3]), b"\xcf" + (5).to_bytes(8, "big"), *map(encode, wire[4:])]
    )
    assert msgpack.unpackb(loose, raw=False) == tx.to_wire()
    with pytest.raises(DecodeError, match="non-canonical"):
        Tx.decode(loose)
    header = BlockHeader("c", 1, 0, 0, *[bytes(32)] * 2, *[bytes(32)] * 4)
    good = Block(header, (tx,)).encode()
    assert good.endswith(tx.encode())
    with pytest.raises(DecodeError, match="non-canonical"):
        Block.decode(good[: -len(tx.encode())] + loose)


# -- blocks, journal records and messages ------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks())
def test_block_bytes_match_the_generic_path(block):
    data = generic(block)
    assert block.encode() == data
    assert data[1 + len(block.header.encode()) :].startswith(array_header(len(block.txs)))
    decoded = Block.decode(data)
    assert decoded == block and decoded.encode() == data
    assert_kept_bytes_are_canonical(decoded)
    hashes = [SUITE.tagged_hash(TAG_TX, generic_tx_payload(tx)) for tx in block.txs]
    assert [tx_hash(SUITE, tx) for tx in decoded.txs] == hashes
    assert tx_root(SUITE, decoded.txs) == tx_root(SUITE, block.txs, hashes)


@st.composite
def messages(draw: st.DrawFn) -> Record:
    height = draw(st.integers(0, 2**32))
    block = draw(blocks(height))
    keys = st.binary(max_size=33)
    sig = st.binary(max_size=64)
    pp = PrePrepare(height, draw(u64), block, draw(keys), draw(sig))
    cert = PreparedCertificate(draw(u64), block, ())
    vc = ViewChange(
        height, draw(u64), draw(u64), draw(st.sampled_from([cert, None])), draw(keys), draw(sig)
    )
    commit = CommitCertificate(height, 0, bytes(32), b"\x01", (draw(sig),))
    return draw(
        st.sampled_from(
            [
                pp,
                vc,
                NewView(
                    height,
                    draw(u64),
                    (vc, dataclasses.replace(vc, prepared=cert)),
                    pp,
                    draw(keys),
                    draw(sig),
                ),
                CatchUpResponse(
                    (CertifiedBlock(block, commit),) * draw(st.integers(0, 2)),
                    draw(keys),
                    draw(sig),
                ),
                Prepared(height, cert),
            ]
        )
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_message_and_journal_bytes_match_the_generic_path(msg):
    if type(msg) in MESSAGE_KINDS:
        data = encode([MESSAGE_KINDS[type(msg)], msg.to_wire()])
        assert encode_message(msg) == data
        decoded = decode_message(data)
        assert decoded == msg and encode_message(decoded) == data
        assert_kept_bytes_are_canonical(decoded)
        if not isinstance(msg, PrePrepare):
            assert signed_payload(decoded, SUITE) == encode(msg.to_wire()[:-1])
            assert signed_payload(msg, SUITE) == encode(msg.to_wire()[:-1])
    if type(msg) in JOURNAL_KINDS:
        data = encode([JOURNAL_KINDS[type(msg)], msg.to_wire()])
        assert encode_journal(msg) == data
        decoded = decode_journal(data)
        assert decoded == msg and encode_journal(decoded) == data
        assert_kept_bytes_are_canonical(decoded)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.randoms(use_true_random=False))
def test_damaged_messages_raise_only_decode_error_or_are_exact(msg, rnd):
    """Decoding stays as strict: whatever is accepted re-encodes to the very input."""
    data = bytearray(encode([MESSAGE_KINDS.get(type(msg), 4), msg.to_wire()]))
    for _ in range(rnd.randint(1, 3)):
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    try:
        decoded = decode_message(bytes(data))
    except DecodeError:
        return
    assert encode_message(decoded) == bytes(data)
    assert_kept_bytes_are_canonical(decoded)


def test_array_headers_match_msgpack_at_every_boundary():
    for count in [0, 1, 15, 16, 17, 65535, 65536, 70_000]:
        packed = msgpack.packb([None] * count)
        assert packed == array_header(count) + b"\xc0" * count


def test_seventy_thousand_txs_splice_like_the_generic_path():
    """Past 65,535 items the txs list needs the 32-bit array header (0xdd)."""
    rng = random.Random(7)
    txs = tuple(
        Tx.decode(generic(Tx("c", "k", b"s", i, 9, [rng.randrange(300)], b"\x01")))
        if i % 2
        else Tx("c", "k", b"s", i, 9, [i], b"")
        for i in range(70_000)
    )
    block = Block(BlockHeader("c", 3, 0, 0, *[bytes(32)] * 2, *[bytes(32)] * 4), txs)
    data = block.encode()
    assert data == generic(block)
    after_header = 1 + len(block.header.encode())
    assert data[after_header : after_header + 5] == b"\xdd\x00\x01\x11\x70"
    pp = PrePrepare(3, 1, block, b"p", b"sig")
    message = encode_message(pp)
    assert message == encode([1, pp.to_wire()])
    decoded = decode_message(message)
    assert encode_journal(decoded) == encode([1, pp.to_wire()])
    assert all(tx._encoded is not None for tx in decoded.block.txs)
    assert decoded.block.txs[69_999]._encoded == generic(txs[69_999])


def test_check_tx_root_uses_the_kept_hashes():
    txs = tuple(sign_tx(KEY, "c", "t.x", i, 9, [i, b"x" * i]) for i in range(17))
    root = tx_root(SUITE, txs)
    header = BlockHeader("c", 1, 0, 0, bytes(32), b"p", root, *[bytes(32)] * 3)
    decoded = Block.decode(Block(header, txs).encode())
    hashes = check_tx_root(SUITE, decoded)
    assert hashes == [SUITE.tagged_hash(TAG_TX, generic_tx_payload(tx)) for tx in txs]
    assert [tx._hash[1] for tx in decoded.txs] == hashes
