"""Validator links: authenticated, framed, reconnecting TCP between validators.

Theory of operation
-------------------
Every validator dials every other validator and keeps that connection for
*sending*; connections it accepts are for *receiving*. A pair of validators
therefore holds two one-way TCP streams, which removes any "who dials whom"
tie-break and lets each side reconnect on its own schedule.

A connection starts with a three-frame handshake in which each side proves
its validator key over fresh randomness of the other side:

    dialer   -> HELLO     [version, chain_id, genesis_hash, dialer_key, nonce_d]
    listener -> CHALLENGE [listener_key, nonce_l, sig_l]
    dialer   -> PROOF     [sig_d]

``sig_x`` signs ``[role, nonce_d, nonce_l, dialer_key, listener_key]`` under
the link tag and the chain id, with a different role word for each side, so
neither signature can be reflected back. A key outside the validator set, a
foreign chain or genesis, or a bad signature closes the connection with a
REFUSED frame saying why. After the handshake every frame is
``4-byte big-endian length || canonical msgpack``, at most ``MAX_FRAME_BYTES``.

Sending never blocks consensus: each peer has a bounded queue; when a peer is
down or slow its queue fills and new frames for it are dropped (counted).
Consensus tolerates loss — it retransmits on timers and catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from chain.codec import Value, decode, encode
from chain.crypto import CryptoSuite, Signer
from chain.errors import DecodeError

__all__ = ["MAX_FRAME_BYTES", "LinkStats", "PeerNetwork", "read_frame", "write_frame"]

log = logging.getLogger("skillchain.links")

TAG_LINK = b"skillchain/link-handshake/v1"
LINK_VERSION = 1
MAX_FRAME_BYTES = 20 * 1024 * 1024
HANDSHAKE_TIMEOUT_S = 5.0
QUEUE_FRAMES = 20_000
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 3.0
_LEN = struct.Struct(">I")


class LinkRefused(Exception):
    """The other side is not a validator we may talk to (or we are not one for it)."""


async def read_frame(reader: asyncio.StreamReader, max_bytes: int = MAX_FRAME_BYTES) -> Value:
    """One length-prefixed canonical msgpack value; ``DecodeError`` on garbage."""
    header = await reader.readexactly(4)
    (length,) = _LEN.unpack(header)
    if length > max_bytes:
        raise DecodeError(f"frame of {length} bytes exceeds the limit of {max_bytes}")
    return decode(await reader.readexactly(length), max_bytes=max_bytes)


def write_frame(writer: asyncio.StreamWriter, value: Value) -> None:
    """Queue one frame on ``writer`` (the caller drains)."""
    body = encode(value)
    writer.write(_LEN.pack(len(body)) + body)


@dataclass
class LinkStats:
    """Counters for /metrics."""

    frames_in: int = 0
    frames_out: int = 0
    dropped_out: int = 0
    refused: int = 0
    garbage: int = 0
    connected_out: set[bytes] = field(default_factory=set)
    connected_in: set[bytes] = field(default_factory=set)


def _transcript(role: str, nonce_d: bytes, nonce_l: bytes, dialer: bytes, listener: bytes) -> bytes:
    return encode([role, nonce_d, nonce_l, dialer, listener])


class PeerNetwork:
    """The links of one validator to the rest of the validator set."""

    def __init__(
        self,
        suite: CryptoSuite,
        signer: Signer,
        chain_id: str,
        genesis_hash: bytes,
        peers: dict[bytes, tuple[str, int]],
        is_validator: Callable[[bytes], bool],
        on_frame: Callable[[bytes, Value], None],
    ) -> None:
        self._suite = suite
        self._signer = signer
        self._chain_id = chain_id
        self._genesis_hash = genesis_hash
        self._peers = {k: a for k, a in peers.items() if k != signer.public_key}
        self._is_validator = is_validator
        self._on_frame = on_frame
        self._queues: dict[bytes, asyncio.Queue[bytes]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._server: asyncio.base_events.Server | None = None
        self._inbound: set[asyncio.StreamWriter] = set()
        self.stats = LinkStats()

    # -- lifecycle -------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, limit=2**16)
        for key, address in self._peers.items():
            self._queues[key] = asyncio.Queue(QUEUE_FRAMES)
            self._tasks.append(asyncio.create_task(self._dial_forever(key, address)))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._inbound):  # Server.close() leaves accepted streams open
            writer.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    # -- sending ---------------------------------------------------------------

    def send(self, peer: bytes, value: Value) -> None:
        """Queue ``value`` for ``peer``; dropped (and counted) when its queue is full."""
        queue = self._queues.get(peer)
        if queue is None:
            return
        body = encode(value)
        try:
            queue.put_nowait(_LEN.pack(len(body)) + body)
        except asyncio.QueueFull:
            self.stats.dropped_out += 1

    def broadcast(self, value: Value) -> None:
        """Queue ``value`` for every peer (encoded once)."""
        body = encode(value)
        frame = _LEN.pack(len(body)) + body
        for queue in self._queues.values():
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.stats.dropped_out += 1

    def connected(self) -> set[bytes]:
        """Peers we can currently send to."""
        return set(self.stats.connected_out)

    async def _dial_forever(self, peer: bytes, address: tuple[str, int]) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            try:
                reader, writer = await asyncio.open_connection(*address, limit=2**16)
            except OSError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            try:
                await asyncio.wait_for(
                    self._dial_handshake(reader, writer, peer), HANDSHAKE_TIMEOUT_S
                )
                backoff = BACKOFF_MIN_S
                self.stats.connected_out.add(peer)
                await self._pump_until_closed(reader, writer, self._queues[peer])
            except (TimeoutError, OSError, asyncio.IncompleteReadError, DecodeError) as exc:
                log.debug("link to %s lost: %s", peer.hex()[:12], exc)
            except LinkRefused as exc:
                self.stats.refused += 1
                log.warning("link to %s refused: %s", peer.hex()[:12], exc)
            finally:
                self.stats.connected_out.discard(peer)
                writer.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _pump_until_closed(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        queue: asyncio.Queue[bytes],
    ) -> None:
        # The listener never writes after the handshake, so any read completing
        # means the connection is gone; without this watch an idle link would
        # look alive until the next send.
        pump = asyncio.create_task(self._pump(writer, queue))
        closed = asyncio.create_task(reader.read(1))
        try:
            done, _ = await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                pump.result()
        finally:
            for task in (pump, closed):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _pump(self, writer: asyncio.StreamWriter, queue: asyncio.Queue[bytes]) -> None:
        while True:
            frame = await queue.get()
            writer.write(frame)
            self.stats.frames_out += 1
            while not queue.empty() and writer.transport.get_write_buffer_size() < 1 << 20:
                writer.write(queue.get_nowait())
                self.stats.frames_out += 1
            await writer.drain()

    async def _dial_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: bytes
    ) -> None:
        me = self._signer.public_key
        nonce_d = os.urandom(32)
        write_frame(writer, [LINK_VERSION, self._chain_id, self._genesis_hash, me, nonce_d])
        await writer.drain()
        answer = await read_frame(reader, 4096)
        if isinstance(answer, list) and answer[:1] == ["refused"]:
            raise LinkRefused(str(answer[1:]))
        if not (isinstance(answer, list) and len(answer) == 3):
            raise DecodeError("malformed CHALLENGE frame")
        listener, nonce_l, sig_l = answer
        if listener != peer or not isinstance(nonce_l, bytes) or len(nonce_l) != 32:
            raise LinkRefused("the listener is not the validator we dialled")
        payload = _transcript("listener", nonce_d, nonce_l, me, listener)
        if not self._verify(listener, payload, sig_l):
            raise LinkRefused("the listener's handshake signature does not verify")
        proof = self._signer.sign(
            TAG_LINK, self._chain_id, _transcript("dialer", nonce_d, nonce_l, me, listener)
        )
        write_frame(writer, [proof])
        await writer.drain()

    # -- receiving ---------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = None
        self._inbound.add(writer)
        try:
            peer = await asyncio.wait_for(
                self._accept_handshake(reader, writer), HANDSHAKE_TIMEOUT_S
            )
            self.stats.connected_in.add(peer)
            while True:
                value = await read_frame(reader)
                self.stats.frames_in += 1
                self._on_frame(peer, value)
        except LinkRefused as exc:
            self.stats.refused += 1
            log.warning("refused an inbound link: %s", exc)
            with contextlib.suppress(Exception):
                write_frame(writer, ["refused", str(exc)])
                await writer.drain()
        except DecodeError as exc:
            self.stats.garbage += 1
            log.warning("closing a link that sent garbage: %s", exc)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if peer is not None:
                self.stats.connected_in.discard(peer)
            self._inbound.discard(writer)
            writer.close()

    async def _accept_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        hello = await read_frame(reader, 4096)
        if not (isinstance(hello, list) and len(hello) == 5):
            raise DecodeError("malformed HELLO frame")
        version, chain_id, genesis_hash, dialer, nonce_d = hello
        if version != LINK_VERSION:
            raise LinkRefused(f"link version {version!r} is not {LINK_VERSION}")
        if chain_id != self._chain_id or genesis_hash != self._genesis_hash:
            raise LinkRefused("the dialer belongs to another chain or genesis")
        if not isinstance(dialer, bytes) or not self._is_validator(dialer):
            raise LinkRefused("the dialer's key is not in the validator set")
        if not isinstance(nonce_d, bytes) or len(nonce_d) != 32:
            raise DecodeError("HELLO nonce must be 32 bytes")
        me, nonce_l = self._signer.public_key, os.urandom(32)
        sig_l = self._signer.sign(
            TAG_LINK, self._chain_id, _transcript("listener", nonce_d, nonce_l, dialer, me)
        )
        write_frame(writer, [me, nonce_l, sig_l])
        await writer.drain()
        proof = await read_frame(reader, 4096)
        if not (isinstance(proof, list) and len(proof) == 1 and isinstance(proof[0], bytes)):
            raise DecodeError("malformed PROOF frame")
        if not self._verify(dialer, _transcript("dialer", nonce_d, nonce_l, dialer, me), proof[0]):
            raise LinkRefused("the dialer's handshake signature does not verify")
        return dialer

    def _verify(self, key: bytes, payload: bytes, signature: object) -> bool:
        if not isinstance(key, bytes) or not isinstance(signature, bytes):
            return False
        return self._suite.verify(key, TAG_LINK, self._chain_id, payload, signature)
