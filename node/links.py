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

**TLS** (``node/tls.py``; on when the node has ``tls_cert_file``): the dialer
opens TLS 1.3 with its certificate, the listener upgrades each accepted
connection with ``start_tls`` (so the budgets below apply before any TLS
work) and requires a client certificate; both chain to ``tls_ca_file``. The
handshake then runs inside TLS, and both transcripts gain
``[sha256(dialer's certificate), sha256(listener's certificate)]`` as each
side saw them (its own from its file, the other's from
``getpeercert(binary_form=True)``). A relay that terminates TLS shows each
end a different certificate, so neither signature verifies and the link is
refused (``cert_not_bound``): the certificate is bound to the validator key
on every connection, whoever issued it. With TLS configured, a plaintext or
certificate-less peer fails the TLS handshake and is dropped
(``tls_plaintext``, ``tls_bad_cert``, ``tls_old_version``,
``tls_handshake``; charged to nobody, no key is proven yet). Plaintext
transcripts are unchanged, so plaintext devnets speak link version 1 as before.

**Heartbeats** (``heartbeat_s``, 1 s; ``silence_s``, 3 s): both ends of every
link send ``["h", tip_height]`` at least every ``heartbeat_s`` — the dialer
among its frames, the listener on the otherwise unused return direction.
They are handled here, never passed to consensus, never stored; the last tip
heard from each peer is ``peer_tips()``, and the runtime sets ours with
``set_tip``. A link on which nothing arrived for ``silence_s`` (counted in
watchdog ticks that actually ran, so a node whose own loop stalled on a big
block does not cut its links) is closed (``silent``) and redialled; sockets
also get ``TCP_USER_TIMEOUT`` = ``silence_s`` (Linux), so unacknowledged data
fails the connection instead of waiting out TCP's retransmission back-off.
A TCP connect gives up after two heartbeats and the next starts at most a
heartbeat later, so a healed partition costs about a second. Heartbeats are frames like
any other: they count against the read budget (``READ_FRAMES_PER_S``), and a
malformed one is garbage.

Sending never blocks consensus: each peer has a queue bounded in bytes; when
a peer is down or slow its queue fills and new frames for it are dropped.
Consensus tolerates loss — it retransmits on timers and catches up.

Budgets (the shell's rule, ``node/__init__.py``)
------------------------------------------------
Whatever a remote party does wrong on the link port is dropped and counted
in ``faults`` (source ``link``; charged to the peer's key once it is
authenticated), never raised out of here. The limits, and why these values:

* **Pending handshakes** (accepted, not yet authenticated): at most
  ``clamp(2 x validators, 16, 64)`` at a time, and ``PENDING_PER_ADDRESS``
  (8) from one source address; beyond, the connection is closed at once
  (``handshake_cap`` / ``address_cap``). An honest handshake takes one round
  trip and two signatures (milliseconds) and each validator dials us once, so
  twice the set absorbs a reconnect storm; the per-address share keeps one
  host from taking every slot. Connections from the validators' configured
  hosts draw on a pool of their own (each such host may hold
  ``max(8, 2 x validators configured there)``, for devnets on one address),
  so hosts that are not validators cannot lock validators out, however many
  addresses they use. ``HANDSHAKE_TIMEOUT_S`` (5 s) runs from accept, so it
  bounds the wait for the first byte as well as the whole handshake
  (``handshake_timeout``).
* **Inbound connections**: at most ``2 x validators + 2 x pending cap`` in
  total (``conn_cap``: the fd bound). An authenticated validator holds one
  inbound link: a new authenticated link from the same key replaces the older
  one (the dialer keeps only one, so the older is a dead half), so it holds
  two only for the moment of a reconnect. Authenticated links are capped per
  key rather than per address because validators may share an address (a
  devnet on loopback, NAT).
* **Send queues**: ``QUEUE_BYTES`` (32 MiB) per peer, whether its link is up
  or down (``send_queue_full``, charged to the peer). It must hold one
  largest frame (``MAX_FRAME_BYTES``, 20 MiB: a NEW-VIEW with its blocks) plus
  the votes and gossip queued behind it; more only lets a peer that reads
  slowly hold our memory. The transport holds at most one write batch
  (``WRITE_BATCH_BYTES``, 1 MiB) plus one frame on top, so a peer costs at
  most ~53 MiB however it behaves.
* **Slow readers**: each drain must finish within
  ``drain_timeout_s + bytes / MIN_READ_BYTES_PER_S`` (10 s plus 1 s per MiB
  written, i.e. a peer must read at 1 MiB/s, a slow WAN link, once it reads
  at all). A peer that misses it is disconnected (``slow_reader``, charged to
  the peer) and redialled after ``BACKOFF_MAX_S``; its queued frames stay,
  bounded as above.
* **Garbage** from an authenticated peer (oversized or non-canonical frame)
  closes its link (``garbage_frame``, charged to it) and refuses its
  reconnects for ``penalty_base_s x 2^(offences-1)`` (1 s doubling, at most
  ``PENALTY_MAX_S``, 60 s; offences forgotten after ``PENALTY_FORGET_S``,
  10 min, of good behaviour), so it cannot make us decode garbage at its
  reconnect rate. The refusal happens at HELLO, before any signature work
  (``penalised``, charged to nobody: HELLO's key is not yet proven). Other
  refusals at the handshake (foreign chain, key outside the set, bad
  signature) count as ``refused``, malformed handshake frames as
  ``bad_handshake``.
* **Logs** about what remote parties did are rate-limited per kind
  (one line per ``LOG_INTERVAL_S``, with the number suppressed), so a flood
  costs counters, not disk.

An attacker that shares a validator's source address can delay that
validator's links (not others'); the link port should still be reachable only
from the validators' addresses (firewall).

The total/per-address budget for pending handshakes is ``_AddressBudget``,
meant to be replaced by the shared ``node.listeners.ConnectionBudget`` once
that exists (same shape: acquire by address, release).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import struct
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from chain.codec import Value, decode, encode
from chain.crypto import CryptoSuite, Signer
from chain.errors import DecodeError
from node.faults import Faults
from node.tls import LinkTls, fingerprint, tls_fault_kind

__all__ = [
    "MAX_FRAME_BYTES",
    "QUEUE_BYTES",
    "LinkStats",
    "PeerLinkStats",
    "PeerNetwork",
    "read_frame",
    "write_frame",
]

log = logging.getLogger("skillchain.links")

TAG_LINK = b"skillchain/link-handshake/v1"
LINK_VERSION = 1
MAX_FRAME_BYTES = 20 * 1024 * 1024
HANDSHAKE_TIMEOUT_S = 5.0
QUEUE_BYTES = 32 * 1024 * 1024
WRITE_BATCH_BYTES = 1 << 20
DRAIN_TIMEOUT_S = 10.0
MIN_READ_BYTES_PER_S = 1 << 20
PENDING_PER_ADDRESS = 8
PENDING_MIN, PENDING_MAX = 16, 64
INBOUND_PER_VALIDATOR = 2
PENALTY_BASE_S = 1.0
PENALTY_MAX_S = 60.0
PENALTY_FORGET_S = 600.0
LOG_INTERVAL_S = 10.0
READ_FRAMES_PER_S = 2_000
READ_FRAME_BURST = 4_000
"""Frames one inbound link is read at, after a burst: an honest validator sends
tens to a few hundred a second (votes, relays, previews, gossip every 20 ms),
so ten times that is never reached; a peer flooding small frames (catch-up
requests: ~32,000 a second were decoded and dropped) is read no faster, and
TCP pushes back on it alone. A pause is counted once (``frame_rate``)."""
STOP_TIMEOUT_S = 5.0
"""How long ``stop`` waits for link tasks; a devnet's nodes all stop within ~10 s."""
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 3.0
HEARTBEAT_S = 1.0
SILENCE_S = 3.0
HEARTBEAT = "h"
MAX_TIP = 2**63 - 1
BEAT_BUFFER_BYTES = 64 * 1024
"""A listener sends no heartbeat while this much is unsent to a dialer that does
not read them (it will find the link silent and redial on its own)."""
_LEN = struct.Struct(">I")


async def _end_tasks(tasks: list[asyncio.Task[None]], timeout_s: float) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again what a swallowed
    cancellation left running, for at most ``timeout_s``; then log and go on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    pending = {task for task in tasks if not task.done()}
    while pending and (left := deadline - loop.time()) > 0:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.5, left))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failed link task is already counted
    if pending:
        log.warning("%d link tasks did not end within %.0f s; leaving them", len(pending),
                    timeout_s)


class LinkRefused(Exception):
    """The other side is not a validator we may talk to (or we are not one for it)."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


class SlowReader(Exception):
    """The peer did not take what we wrote within the drain deadline."""


class GarbageBack(Exception):
    """The listener sent something other than heartbeats on our outbound link."""


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


@dataclass(frozen=True)
class PeerLinkStats:
    """One peer's link as ``PeerNetwork.peer_stats`` reports it (status, /metrics)."""

    connected_out: bool
    connections_in: int
    queued_frames: int
    queued_bytes: int
    """Frames waiting in our queue plus bytes the transport has not sent yet."""
    sent_frames: int
    dropped_frames: int
    slow_reader: int
    garbage: int
    penalised_for_s: float


class _SendQueue:
    """Encoded frames for one peer, bounded in bytes (not frames: frames vary 100 B-20 MiB)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._frames: deque[bytes] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: bytes) -> bool:
        """Append ``frame`` unless it would take the queue over its bound."""
        if self.bytes + len(frame) > self.max_bytes:
            return False
        self._frames.append(frame)
        self.bytes += len(frame)
        self._ready.set()
        return True

    def pop(self) -> bytes:
        frame = self._frames.popleft()
        self.bytes -= len(frame)
        if not self._frames:
            self._ready.clear()
        return frame

    async def wait(self) -> None:
        """Until there is a frame to send (or ``kick`` was called)."""
        await self._ready.wait()

    def kick(self) -> None:
        """Wake ``wait`` with no frame (time for a heartbeat)."""
        self._ready.set()

    def settle(self) -> None:
        """Undo a ``kick`` once it has been answered."""
        if not self._frames:
            self._ready.clear()


@dataclass
class _Peer:
    """What we keep per validator key: its queue, its links and its record."""

    queue: _SendQueue
    writer: asyncio.StreamWriter | None = None
    inbound: list[asyncio.StreamWriter] = field(default_factory=list)
    sent: int = 0
    dropped: int = 0
    slow_reader: int = 0
    garbage: int = 0
    offences: int = 0
    last_offence: float = float("-inf")
    penalised_until: float = float("-inf")
    tip: int | None = None
    """The tip height in the peer's last heartbeat (never stored)."""
    out_live: _Liveness | None = None


@dataclass
class _Liveness:
    """Whether a link was heard since the watchdog's last tick, and ticks missed since."""

    writer: asyncio.StreamWriter
    heard: bool = True
    misses: int = 0


class _NotReadingYet(asyncio.StreamReaderProtocol):
    """An accepted stream that reads nothing until ``_accept`` resumes it or starts TLS.

    With ``asyncio.start_server`` the first bytes (a TLS ClientHello) could be
    read into the stream's buffer before ``start_tls`` ran, and TLS then never
    saw them (the handshake hung until its timeout).
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.pause_reading()  # type: ignore[attr-defined]
        super().connection_made(transport)


class _AddressBudget:
    """Slots with a total and a per-address cap (to become ``node.listeners.ConnectionBudget``)."""

    def __init__(
        self, total: int, per_address: int, overrides: dict[str, int] | None = None
    ) -> None:
        self.total, self.per_address = total, per_address
        self._overrides = overrides or {}
        self._held: Counter[str] = Counter()
        self._count = 0

    def acquire(self, address: str) -> str | None:
        """Take a slot for ``address``; the refusal's fault kind when there is none."""
        if self._count >= self.total:
            return "handshake_cap"
        if self._held[address] >= self._overrides.get(address, self.per_address):
            return "address_cap"
        self._held[address] += 1
        self._count += 1
        return None

    def release(self, address: str) -> None:
        self._held[address] -= 1
        if self._held[address] <= 0:
            del self._held[address]
        self._count -= 1


class _LimitedLog:
    """At most one line per kind per ``LOG_INTERVAL_S``: remote parties must not fill our disk."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = self._clock()
        if now - self._last.get(kind, float("-inf")) < LOG_INTERVAL_S:
            self._suppressed[kind] += 1
            return
        self._last[kind] = now
        suppressed = self._suppressed.pop(kind, 0)
        suffix = f" ({suppressed} similar in the last {LOG_INTERVAL_S:.0f} s)" if suppressed else ""
        log.warning(message + suffix, *args)


def _transcript(
    role: str,
    nonce_d: bytes,
    nonce_l: bytes,
    dialer: bytes,
    listener: bytes,
    certs: tuple[bytes, bytes] | None = None,
) -> bytes:
    """What a handshake signature covers; over TLS also both certificates' SHA-256."""
    fields: list[Value] = [role, nonce_d, nonce_l, dialer, listener]
    if certs is not None:
        fields += list(certs)
    return encode(fields)


def _peer_fingerprint(writer: asyncio.StreamWriter) -> bytes:
    """SHA-256 of the certificate the other end presented on this TLS connection."""
    ssl_object = writer.get_extra_info("ssl_object")
    return fingerprint(ssl_object.getpeercert(binary_form=True) if ssl_object else None)


def _set_user_timeout(writer: asyncio.StreamWriter, timeout_s: float) -> None:
    """``TCP_USER_TIMEOUT`` (Linux): unacknowledged data fails the connection fast."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    sock = writer.get_extra_info("socket")
    if option is None or sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, option, int(timeout_s * 1000))


def _heartbeat_tip(value: Value) -> int | None:
    """The tip of a heartbeat frame; None for any other frame; DecodeError if malformed."""
    if not (type(value) is list and value and value[0] == HEARTBEAT):
        return None
    if len(value) != 2 or type(value[1]) is not int or not 0 <= value[1] <= MAX_TIP:
        raise DecodeError("malformed heartbeat frame")
    return value[1]


def _address(writer: asyncio.StreamWriter) -> str:
    peername = writer.get_extra_info("peername")
    return str(peername[0]) if peername else "unknown"


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
        faults: Faults | None = None,
        *,
        queue_bytes: int = QUEUE_BYTES,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
        penalty_base_s: float = PENALTY_BASE_S,
        read_frames_per_s: float = READ_FRAMES_PER_S,
        read_frame_burst: float = READ_FRAME_BURST,
        clock: Callable[[], float] = time.monotonic,
        tls: LinkTls | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        silence_s: float = SILENCE_S,
    ) -> None:
        self._suite = suite
        self._signer = signer
        self._chain_id = chain_id
        self._genesis_hash = genesis_hash
        self._peers = {k: a for k, a in peers.items() if k != signer.public_key}
        self._is_validator = is_validator
        self._on_frame = on_frame
        self.faults = faults if faults is not None else Faults()
        self._queue_bytes = queue_bytes
        self._drain_timeout_s = drain_timeout_s
        self._penalty_base_s = penalty_base_s
        self._read_rate = (read_frames_per_s, read_frame_burst)
        self._clock = clock
        validators = len(self._peers) + 1
        pending = max(PENDING_MIN, min(PENDING_MAX, 2 * validators))
        hosts = Counter(host for host, _port in self._peers.values())
        shares = {host: max(PENDING_PER_ADDRESS, 2 * n) for host, n in hosts.items()}
        self._validator_hosts = set(shares)
        self._pending_known = _AddressBudget(pending, PENDING_PER_ADDRESS, shares)
        self._pending_other = _AddressBudget(pending, PENDING_PER_ADDRESS)
        self._max_inbound = INBOUND_PER_VALIDATOR * validators + 2 * pending
        self._state: dict[bytes, _Peer] = {k: self._new_peer() for k in self._peers}
        self._tasks: list[asyncio.Task[None]] = []
        self._dialers: dict[bytes, asyncio.Task[None]] = {}
        self._started = False
        self._stopping = False
        self._server: asyncio.base_events.Server | None = None
        self._inbound: set[asyncio.StreamWriter] = set()
        self._log = _LimitedLog(clock)
        self.stats = LinkStats()
        self._tls = tls
        self._heartbeat_s = heartbeat_s
        self._silence_s = silence_s
        self._tick_s = heartbeat_s / 2
        self._connect_timeout_s = max(1.5, min(silence_s, 2 * heartbeat_s))
        self._silent_ticks = max(2, round(silence_s / self._tick_s))
        self._inbound_live: dict[asyncio.StreamWriter, _Liveness] = {}
        self._accepting: set[asyncio.Task[None]] = set()
        self._tip = 0

    def _new_peer(self) -> _Peer:
        return _Peer(_SendQueue(self._queue_bytes))

    def _peer(self, key: bytes) -> _Peer:
        """State for ``key``: a configured peer, or a validator that dialled us (bounded set)."""
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = self._new_peer()
        return state

    # -- lifecycle -------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        def accepted() -> asyncio.StreamReaderProtocol:
            return _NotReadingYet(asyncio.StreamReader(limit=2**16), self._accept)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(accepted, host, port)
        self._started = True
        for key, address in self._peers.items():
            self._dialers[key] = asyncio.create_task(self._dial_forever(key, address))
        self._tasks.append(asyncio.create_task(self._watch_silence()))

    def set_peers(self, peers: dict[bytes, tuple[str, int]]) -> None:
        """Dial exactly ``peers`` from now on (the runtime calls this when the validator
        set or an address in state changed, ``node.peerset``): new keys are dialled at
        once, a changed address is redialled, a key no longer listed is hung up on and
        its queue dropped. Inbound links are the ``is_validator`` check's business."""
        peers = {k: a for k, a in peers.items() if k != self._signer.public_key}
        for key in [k for k in self._peers if self._peers[k] != peers.get(k)]:
            del self._peers[key]
            task = self._dialers.pop(key, None)
            if task is not None:
                task.cancel()
            if key not in peers and not self._state[key].inbound:
                del self._state[key]
        for key, address in peers.items():
            if key in self._peers:
                continue
            self._peers[key] = address
            self._peer(key)
            host = address[0]
            self._validator_hosts.add(host)
            shares = self._pending_known._overrides
            shares[host] = max(shares.get(host, PENDING_PER_ADDRESS), PENDING_PER_ADDRESS,
                               2 * sum(1 for h, _ in self._peers.values() if h == host))
            if self._started and not self._stopping:
                self._dialers[key] = asyncio.create_task(self._dial_forever(key, address))
        validators = len(self._peers) + 1
        self._max_inbound = max(self._max_inbound, INBOUND_PER_VALIDATOR * validators
                                + 2 * self._pending_known.total)

    async def stop(self) -> None:
        """Close everything and wait for our tasks, at most ``STOP_TIMEOUT_S``.

        A dial loop checks ``_stopping`` after every await: on Python 3.11,
        ``asyncio.wait_for`` can swallow a cancellation that races with the
        awaited connection finishing (a whole devnet sent SIGTERM at once), and the
        loop then went on to its back-off sleep with nothing left to cancel it, so
        ``stop`` waited forever."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for writer in list(self._inbound):  # Server.close() leaves accepted streams open
            writer.transport.abort()  # not close(): TLS would wait for its close_notify
        accepting = [t for t in self._accepting if not t.done()]
        if accepting:  # let them end on the aborted streams rather than be cancelled
            await asyncio.wait(accepting, timeout=1.0)
        await _end_tasks([*self._tasks, *self._dialers.values()], STOP_TIMEOUT_S)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    # -- tips and liveness ----------------------------------------------------------

    def set_tip(self, height: int) -> None:
        """The tip height our heartbeats announce from now on."""
        self._tip = max(0, min(MAX_TIP, height))

    def peer_tips(self) -> dict[bytes, int]:
        """The tip height each peer announced in its latest heartbeat (either direction)."""
        return {key: state.tip for key, state in self._state.items() if state.tip is not None}

    def _heartbeat_frame(self) -> bytes:
        body = encode([HEARTBEAT, self._tip])
        return _LEN.pack(len(body)) + body

    async def _watch_silence(self) -> None:
        """Close links nothing arrived on for ``silence_s`` of ticks that ran (docstring)."""
        while True:
            await asyncio.sleep(self._tick_s)
            for key, state in self._state.items():
                if state.out_live is not None and self._missed(state.out_live):
                    self._cut_silent(state.out_live, key, "to")
            for live in list(self._inbound_live.values()):
                if self._missed(live):
                    self._cut_silent(live, None, "from")

    def _missed(self, live: _Liveness) -> bool:
        if live.heard:
            live.heard, live.misses = False, 0
            return False
        live.misses += 1
        return live.misses >= self._silent_ticks

    def _cut_silent(self, live: _Liveness, key: bytes | None, direction: str) -> None:
        live.misses = 0
        self.faults.drop("link", "silent")  # a partition is nobody's fault: charge nobody
        peer = key.hex()[:12] if key else _address(live.writer)
        self._log.warning(
            "silent", "link %s %s silent for %.1f s: closed, redialling",
            direction, peer, self._silence_s,
        )
        live.writer.transport.abort()

    async def _beat_back(self, writer: asyncio.StreamWriter) -> None:
        """Heartbeats on an accepted link's return direction (unused otherwise)."""
        while True:
            if writer.transport.get_write_buffer_size() < BEAT_BUFFER_BYTES:
                writer.write(self._heartbeat_frame())
            await asyncio.sleep(self._heartbeat_s)

    # -- what status and /metrics read -------------------------------------------

    def peer_stats(self) -> dict[bytes, PeerLinkStats]:
        """Each peer's link: connected out/in, queued frames and bytes, drops, penalty."""
        now = self._clock()
        return {key: self._peer_link_stats(state, now) for key, state in self._state.items()}

    def _peer_link_stats(self, state: _Peer, now: float) -> PeerLinkStats:
        unsent = state.writer.transport.get_write_buffer_size() if state.writer else 0
        return PeerLinkStats(
            connected_out=state.writer is not None,
            connections_in=len(state.inbound),
            queued_frames=len(state.queue),
            queued_bytes=state.queue.bytes + unsent,
            sent_frames=state.sent,
            dropped_frames=state.dropped,
            slow_reader=state.slow_reader,
            garbage=state.garbage,
            penalised_for_s=max(0.0, round(state.penalised_until - now, 3)),
        )

    def metric_lines(self) -> list[str]:
        """Prometheus gauges per peer (key prefix); drops are in ``faults``' counters."""
        lines = [
            "# HELP skillchain_link_connected Links to (out) and from (in) each validator.",
            "# TYPE skillchain_link_connected gauge",
        ]
        stats = sorted((key.hex()[:16], s) for key, s in self.peer_stats().items())
        for label, s in stats:
            lines.append(f'skillchain_link_connected{{peer="{label}",direction="out"}} '
                         f"{int(s.connected_out)}")
            lines.append(f'skillchain_link_connected{{peer="{label}",direction="in"}} '
                         f"{s.connections_in}")
        lines += [
            "# HELP skillchain_link_queued_bytes Bytes queued for a validator, not yet sent.",
            "# TYPE skillchain_link_queued_bytes gauge",
        ]
        lines += [f'skillchain_link_queued_bytes{{peer="{label}"}} {s.queued_bytes}'
                  for label, s in stats]
        return lines

    # -- sending ---------------------------------------------------------------

    def send(self, peer: bytes, value: Value) -> None:
        """Queue ``value`` for ``peer``; dropped (and counted) when its queue is full."""
        state = self._state.get(peer)
        if state is None or peer not in self._peers:
            return
        body = encode(value)
        self._enqueue(peer, state, _LEN.pack(len(body)) + body)

    def broadcast(self, value: Value) -> None:
        """Queue ``value`` for every peer (encoded once)."""
        body = encode(value)
        frame = _LEN.pack(len(body)) + body
        for peer in self._peers:
            self._enqueue(peer, self._state[peer], frame)

    def _enqueue(self, peer: bytes, state: _Peer, frame: bytes) -> None:
        if not state.queue.put(frame):
            state.dropped += 1
            self.stats.dropped_out += 1
            self.faults.drop("link", "send_queue_full", peer)

    def connected(self) -> set[bytes]:
        """Peers we can currently send to."""
        return set(self.stats.connected_out)

    async def _connect(
        self, address: tuple[str, int]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """TCP to ``address`` within two heartbeats (a lost SYN is resent after 1 s; the
        next attempt starts at most a heartbeat later: a healed partition costs about a
        second), then TLS when configured, within ``HANDSHAKE_TIMEOUT_S``."""
        host, port = address
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=2**16), self._connect_timeout_s
        )
        _set_user_timeout(writer, self._silence_s)
        if self._tls is not None:
            try:
                await self._start_tls(writer, self._tls.client)
            except BaseException:
                writer.transport.abort()
                raise
        return reader, writer

    async def _dial_forever(self, peer: bytes, address: tuple[str, int]) -> None:
        backoff = BACKOFF_MIN_S
        state = self._state[peer]
        while not self._stopping and self._peers.get(peer) == address:
            try:
                reader, writer = await self._connect(address)
            except ssl.SSLError as exc:  # before OSError, its base: the TLS handshake failed
                kind = tls_fault_kind(exc)
                self.faults.drop("link", kind)  # no key proven yet: charge nobody
                self._log.warning(kind, "TLS to %s failed: %s", peer.hex()[:12], exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            except (OSError, TimeoutError):
                # down or cut off: retry soon, so a healed partition costs about a second
                await asyncio.sleep(min(backoff, self._heartbeat_s))
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            try:
                await asyncio.wait_for(
                    self._dial_handshake(reader, writer, peer), HANDSHAKE_TIMEOUT_S
                )
                backoff = BACKOFF_MIN_S
                state.writer = writer
                state.out_live = _Liveness(writer)
                self.stats.connected_out.add(peer)
                await self._pump_until_closed(reader, writer, peer, state)
            except SlowReader as exc:
                state.slow_reader += 1
                self.faults.drop("link", "slow_reader", peer)
                self._log.warning("slow_reader", "link to %s cut off: %s", peer.hex()[:12], exc)
                backoff = BACKOFF_MAX_S
            except GarbageBack:  # counted where read; redial slowly, not at its rate
                backoff = BACKOFF_MAX_S
            except DecodeError as exc:  # a malformed CHALLENGE: not yet proven to be the peer
                self.faults.drop("link", "bad_handshake")
                self._log.warning("bad_challenge", "link to %s: %s", peer.hex()[:12], exc)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                log.debug("link to %s lost: %s", peer.hex()[:12], exc)
            except LinkRefused as exc:
                self.stats.refused += 1
                if exc.kind != "refused":  # e.g. cert_not_bound: a relay in between
                    self.faults.drop("link", exc.kind)
                self._log.warning("refused_out", "link to %s refused: %s", peer.hex()[:12], exc)
            finally:
                state.writer = None
                state.out_live = None
                self.stats.connected_out.discard(peer)
                writer.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _pump_until_closed(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: bytes,
        state: _Peer,
    ) -> None:
        # The listener writes only heartbeats after the handshake; reading them
        # also finds a closed connection at once rather than at the next send.
        pump = asyncio.create_task(self._pump(writer, state))
        closed = asyncio.create_task(self._read_heartbeats(reader, peer, state))
        try:
            done, _ = await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (pump, closed):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _read_heartbeats(
        self, reader: asyncio.StreamReader, peer: bytes, state: _Peer
    ) -> None:
        """The listener's heartbeats on our outbound link, within the read budget."""
        rate, burst = self._read_rate
        tokens, last = burst, self._clock()
        try:
            while True:
                tip = _heartbeat_tip(await read_frame(reader, 64))
                if tip is None:
                    raise DecodeError("a listener sent a frame other than a heartbeat")
                state.tip = tip
                if state.out_live is not None:
                    state.out_live.heard = True
                now = self._clock()
                tokens = min(burst, tokens + (now - last) * rate) - 1
                last = now
                if tokens < 0:
                    self.faults.drop("link", "frame_rate", peer)
                    await asyncio.sleep(-tokens / rate)
        except DecodeError as exc:
            state.garbage += 1
            self.stats.garbage += 1
            self.faults.drop("link", "garbage_frame", peer)
            self._log.warning("garbage_beat", "link to %s: %s", peer.hex()[:12], exc)
            raise GarbageBack(str(exc)) from None
        except (OSError, asyncio.IncompleteReadError):
            pass

    async def _pump(self, writer: asyncio.StreamWriter, state: _Peer) -> None:
        """Write queued frames in batches, and a heartbeat at least every ``heartbeat_s``."""
        queue = state.queue
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        timer = None
        try:
            while True:
                if not len(queue) and loop.time() < next_beat:
                    timer = loop.call_at(next_beat, queue.kick)
                    await queue.wait()
                    timer.cancel()
                written = 0
                if loop.time() >= next_beat:
                    beat = self._heartbeat_frame()
                    writer.write(beat)
                    written += len(beat)
                    next_beat = loop.time() + self._heartbeat_s
                    queue.settle()
                written += self._write_batch(writer, state)
                await self._drain(writer, written)
        finally:
            if timer is not None:
                timer.cancel()

    def _write_batch(self, writer: asyncio.StreamWriter, state: _Peer) -> int:
        """Move queued frames to the transport, up to about ``WRITE_BATCH_BYTES``."""
        queue = state.queue
        written = 0
        while len(queue) and (
            written == 0 or writer.transport.get_write_buffer_size() < WRITE_BATCH_BYTES
        ):
            frame = queue.pop()
            writer.write(frame)
            written += len(frame)
            state.sent += 1
            self.stats.frames_out += 1
        return written

    async def _drain(self, writer: asyncio.StreamWriter, written: int) -> None:
        """Wait for the peer to take what we wrote; ``SlowReader`` past the deadline."""
        deadline = self._drain_timeout_s + written / MIN_READ_BYTES_PER_S
        try:
            await asyncio.wait_for(writer.drain(), deadline)
        except TimeoutError:
            unsent = writer.transport.get_write_buffer_size()
            raise SlowReader(f"{unsent} bytes unread after {deadline:.1f} s") from None

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
        certs = None if self._tls is None else (self._tls.own_fingerprint,
                                                 _peer_fingerprint(writer))
        payload = _transcript("listener", nonce_d, nonce_l, me, listener, certs)
        if not self._verify(listener, payload, sig_l):
            raise self._bad_signature("listener")
        proof = self._signer.sign(
            TAG_LINK, self._chain_id, _transcript("dialer", nonce_d, nonce_l, me, listener, certs)
        )
        write_frame(writer, [proof])
        await writer.drain()

    # -- receiving ---------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._accepting.add(task)
            task.add_done_callback(self._accepting.discard)
        address = _address(writer)
        refusal = "conn_cap" if len(self._inbound) >= self._max_inbound else None
        refusal = refusal or self._pending_for(address).acquire(address)
        if refusal is not None:  # closed at once: a silent flood costs a counter, not an fd
            self.faults.drop("link", refusal)
            self._log.warning(refusal, "link connection from %s closed: %s", address, refusal)
            writer.close()
            return
        self._inbound.add(writer)
        _set_user_timeout(writer, self._silence_s)
        try:
            peer = await self._handshake_inbound(reader, writer, address)
            if peer is not None:
                await self._receive(reader, writer, peer)
        finally:
            self._inbound.discard(writer)
            with contextlib.suppress(AttributeError):  # see ``_start_tls``
                writer.close()

    def _pending_for(self, address: str) -> _AddressBudget:
        """Validators' configured hosts have their own slots: others cannot take them."""
        return self._pending_known if address in self._validator_hosts else self._pending_other

    async def _handshake_inbound(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str
    ) -> bytes | None:
        """The dialer's proven key, or None (counted) when the handshake fails."""
        try:
            return await asyncio.wait_for(
                self._accept_handshake(reader, writer), HANDSHAKE_TIMEOUT_S
            )
        except LinkRefused as exc:
            self.stats.refused += 1
            self.faults.drop("link", exc.kind)  # HELLO's key is a claim: charge nobody
            self._log.warning("refused_in", "refused an inbound link from %s: %s", address, exc)
            with contextlib.suppress(Exception):
                write_frame(writer, ["refused", str(exc)])
                await asyncio.wait_for(writer.drain(), 1.0)
        except DecodeError as exc:
            self.stats.garbage += 1
            self.faults.drop("link", "bad_handshake")
            self._log.warning("bad_handshake", "bad link handshake from %s: %s", address, exc)
        except TimeoutError:
            self.faults.drop("link", "handshake_timeout")
        except ssl.SSLError as exc:  # before OSError, its base
            kind = tls_fault_kind(exc)
            self.faults.drop("link", kind)
            self._log.warning(kind, "TLS from %s failed: %s", address, exc)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._pending_for(address).release(address)
        return None

    async def _receive(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: bytes
    ) -> None:
        """Frames from an authenticated validator until its link closes."""
        state = self._peer(peer)
        for older in state.inbound:  # the dialer keeps one link: older ones are dead halves
            older.close()
        state.inbound = [writer]
        self.stats.connected_in.add(peer)
        live = self._inbound_live[writer] = _Liveness(writer)
        beats = asyncio.create_task(self._beat_back(writer))
        rate, burst = self._read_rate
        tokens, last = burst, self._clock()
        try:
            while True:
                value = await read_frame(reader)
                live.heard = True
                self.stats.frames_in += 1
                tip = _heartbeat_tip(value)
                if tip is None:
                    self._on_frame(peer, value)
                else:
                    state.tip = tip
                now = self._clock()
                tokens = min(burst, tokens + (now - last) * rate) - 1
                last = now
                if tokens < 0:  # over its budget: read on later (see READ_FRAMES_PER_S)
                    self.faults.drop("link", "frame_rate", peer)
                    await asyncio.sleep(-tokens / rate)
        except DecodeError as exc:
            self.stats.garbage += 1
            self.faults.drop("link", "garbage_frame", peer)
            penalty = self._penalise(state)
            self._log.warning(
                "garbage_frame",
                "closing the link from %s, which sent garbage (%s); refusing it for %.1f s",
                peer.hex()[:12],
                exc,
                penalty,
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            beats.cancel()
            self._inbound_live.pop(writer, None)
            if writer in state.inbound:
                state.inbound.remove(writer)
            if not state.inbound:
                self.stats.connected_in.discard(peer)

    def _penalise(self, state: _Peer) -> float:
        """Refuse the peer's reconnects for an interval doubling per recent offence."""
        now = self._clock()
        if now - state.last_offence > PENALTY_FORGET_S:
            state.offences = 0
        state.garbage += 1
        state.offences += 1
        state.last_offence = now
        penalty = min(PENALTY_MAX_S, self._penalty_base_s * 2 ** (state.offences - 1))
        state.penalised_until = now + penalty
        return penalty

    async def _accept_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        certs = None
        if self._tls is None:
            writer.transport.resume_reading()  # paused since accept (``_NotReadingYet``)
        else:  # plaintext from here on is an SSLError: dropped, counted
            await self._start_tls(writer, self._tls.server)
            certs = (_peer_fingerprint(writer), self._tls.own_fingerprint)
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
        self._refuse_if_penalised(dialer)
        me, nonce_l = self._signer.public_key, os.urandom(32)
        sig_l = self._signer.sign(
            TAG_LINK, self._chain_id, _transcript("listener", nonce_d, nonce_l, dialer, me, certs)
        )
        write_frame(writer, [me, nonce_l, sig_l])
        await writer.drain()
        proof = await read_frame(reader, 4096)
        if not (isinstance(proof, list) and len(proof) == 1 and isinstance(proof[0], bytes)):
            raise DecodeError("malformed PROOF frame")
        payload = _transcript("dialer", nonce_d, nonce_l, dialer, me, certs)
        if not self._verify(dialer, payload, proof[0]):
            raise self._bad_signature("dialer")
        return dialer

    async def _start_tls(self, writer: asyncio.StreamWriter, context: ssl.SSLContext) -> None:
        """Upgrade a connection (accepted: server side; dialled: client side). A
        connection lost right after the TLS handshake makes Python 3.11's
        ``start_tls`` fail with AttributeError (its new transport is None): that is
        a lost connection."""
        raw = writer.transport
        try:
            await writer.start_tls(context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
        except AttributeError:
            raw.abort()
            raise ConnectionResetError("connection lost during the TLS handshake") from None

    def _refuse_if_penalised(self, dialer: bytes) -> None:
        """Before any signature work: a key serving a garbage penalty is refused."""
        state = self._state.get(dialer)
        if state is None:
            return
        remaining = state.penalised_until - self._clock()
        if remaining > 0:
            raise LinkRefused(
                f"penalised for sending garbage; retry in {remaining:.1f} s", "penalised"
            )

    def _bad_signature(self, role: str) -> LinkRefused:
        if self._tls is None:
            return LinkRefused(f"the {role}'s handshake signature does not verify")
        return LinkRefused(
            f"the {role}'s handshake signature does not cover the TLS certificates of this "
            "connection: a relay in between, or a certificate not bound to its key",
            "cert_not_bound",
        )

    def _verify(self, key: bytes, payload: bytes, signature: object) -> bool:
        if not isinstance(key, bytes) or not isinstance(signature, bytes):
            return False
        return self._suite.verify(key, TAG_LINK, self._chain_id, payload, signature)
