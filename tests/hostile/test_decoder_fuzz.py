"""Fuzz the wire decoders: whatever bytes a peer or client sends, only ``DecodeError``.

The error contract (STYLE.md, habit 13): every decoder a remote party can
reach answers garbage with our documented "peer sent garbage" error, never
with ``KeyError``/``TypeError``/``RecursionError``/``MemoryError`` or a hang,
because a stray exception in a link or RPC handler is a crash or a 500. Three
kinds of input reach deeper than random bytes alone would:

* random bytes;
* valid canonical encodings of real txs, blocks, votes and consensus
  messages with bytes flipped, inserted or cut (gets past the msgpack layer
  into the record schemas);
* msgpack of arbitrary nested values (well-formed msgpack, wrong shapes).

``node.links.read_frame`` is fuzzed over a real loopback TCP connection; the
end of the stream mid-frame is ``asyncio.IncompleteReadError``, which the
link layer treats as "connection lost", so it is the one other outcome
allowed there.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.codec import decode
from chain.crypto import get_suite
from chain.errors import DecodeError
from chain.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Event,
    Phase,
    Receipt,
    Tx,
    Vote,
    header_hash,
    sign_tx,
    sign_vote,
)
from consensus.messages import (
    CatchUpRequest,
    CatchUpResponse,
    CertifiedBlock,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
    sign_message,
)
from node.links import read_frame

SUITE = get_suite("ed25519-sha256")
SIGNER = SUITE.signer_from_seed(bytes(32))
CHAIN = "fuzz-chain"
RECORDS = (Tx, BlockHeader, Block, Vote, CommitCertificate, Event, Receipt)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _samples() -> list[bytes]:
    """Canonical encodings of one of each structure a peer or client sends."""
    tx = sign_tx(SIGNER, CHAIN, "registry.suspend_actor", 7, 100, ["someone", "reason"])
    header = BlockHeader(CHAIN, 1, 0, 1_700_000_000, bytes(32), SIGNER.public_key, *[bytes(32)] * 4)
    block = Block(header, (tx,))
    block_hash = header_hash(SUITE, header)
    vote = sign_vote(SIGNER, CHAIN, Phase(1), 1, 0, block_hash)
    cert = CommitCertificate(1, 0, block_hash, b"\x01", (vote.signature,))
    messages = [
        sign_message(SIGNER, CHAIN, PrePrepare(1, 0, block, b"", b"")),
        vote,
        sign_message(SIGNER, CHAIN, ViewChange(1, 1, 0, None, b"", b"")),
        sign_message(SIGNER, CHAIN, CatchUpRequest(1, b"", b"")),
        sign_message(SIGNER, CHAIN, CatchUpResponse((CertifiedBlock(block, cert),), b"", b"")),
    ]
    receipt = Receipt(0, "", (Event("x", [1, b"2"]),))
    return [tx.encode(), block.encode(), cert.encode(), receipt.encode()] + [
        encode_message(m) for m in messages
    ]


SAMPLES = _samples()

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


def packed(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


hostile = st.binary(max_size=300) | mutated() | msgpack_values.map(packed)


def only_decode_error(function, data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        function(data)


def test_the_samples_themselves_decode():
    """The mutation seeds are valid, so mutations start from deep inside the schemas."""
    for cls, raw in zip((Tx, Block, CommitCertificate, Receipt), SAMPLES, strict=False):
        assert cls.decode(raw).encode() == raw
    for raw in SAMPLES[4:]:
        assert encode_message(decode_message(raw)) == raw


@FUZZ
@given(hostile)
def test_codec_decode_raises_only_decode_error(data):
    only_decode_error(decode, data)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@FUZZ
@given(data=hostile)
def test_record_decoders_raise_only_decode_error(cls, data):
    only_decode_error(cls.decode, data)


@FUZZ
@given(hostile)
def test_consensus_message_decoder_raises_only_decode_error(data):
    only_decode_error(decode_message, data)


async def _read_over_tcp(data: bytes) -> None:
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await read_frame(reader, max_bytes=1 << 20)
        except (DecodeError, asyncio.IncompleteReadError):
            outcome.set_result(None)
        except BaseException as exc:  # noqa: BLE001 - the thing under test
            outcome.set_result(exc)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    writer.close()
    error = await asyncio.wait_for(outcome, 10)
    server.close()
    await server.wait_closed()
    if error is not None:
        raise error


framed = st.builds(
    lambda body, claim: (claim if claim is not None else len(body)).to_bytes(4, "big") + body,
    hostile,
    st.none() | st.integers(0, 2**32 - 1),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(framed, min_size=1, max_size=3).map(b"".join) | st.binary(max_size=64))
def test_read_frame_over_tcp_raises_only_decode_error(data):
    asyncio.run(_read_over_tcp(data))
