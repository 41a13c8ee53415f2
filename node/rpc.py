"""HTTP RPC under ``/v1`` (aiohttp): submit signed txs, read the chain, query contracts.

Every answer is JSON unless the client sends ``Accept: application/msgpack``,
in which case block and tx bodies come as their canonical bytes (what catch-up
and the auditor's replay want). Every error is ``{"code", "message"}`` with a
fitting HTTP status, never a traceback: a middleware turns our typed errors
into answers and anything unexpected into a logged ``internal_error``. Every
refused request is counted in ``node.faults`` as ``("rpc", code)``.

No endpoint changes state except by admitting a signed tx; the signature,
not the HTTP caller, is the authority.

Budgets (issue 13: a client's fault is never our fault), each checked before
the work it bounds:

* **Connections** (``node.listeners``): at most ``max_connections`` in total
  (also bounded by the fd limit, with descriptors kept for LevelDB) and
  ``max_connections_per_address`` per client address (trusted proxies only
  count against the total); a connection that sends nothing for
  ``FIRST_BYTE_S`` is closed, an idle keep-alive connection after
  ``KEEPALIVE_S`` (aiohttp's default was 3,630 s), and when the total is full
  the oldest connection that never sent a byte makes room for a new one.
* **Requests per client**: a token bucket per client address (``rate_per_s``,
  burst 2x) and one per /24 (IPv4) or /64 (IPv6) with ``PREFIX_SHARE`` times
  that, so 30 loopback addresses get 4x one address's budget, not 30x. The
  client is the TCP peer, or — when the peer is one of ``trusted_proxies`` —
  the rightmost untrusted address of ``X-Forwarded-For``. Bucket tables hold
  at most ``MAX_TRACKED`` keys each and evict the least recently used; a key
  created while the table is full starts with the evicted bucket's tokens
  (never more than a full bucket), so cycling through many addresses to evict
  buckets buys nothing a new address would not get anyway. Nothing is ever
  reset globally.
* **Body bytes per client**: a byte bucket per address and per prefix
  (``BODY_BYTES_PER_S``); JSON bytes weigh ``JSON_WEIGHT`` times msgpack's,
  since parsing and hex-decoding them costs that much more CPU.
* **Bodies before parsing**: a declared ``Content-Length`` over the route's
  limit is refused (413) before a byte of the body is read; without one,
  reading stops at the limit. JSON bodies are capped at ``MAX_JSON_BODY_BYTES``
  (8 MiB, ~20 ms of parsing on the event loop at most), msgpack batches at
  ``MAX_BODY_BYTES`` and a single msgpack tx at ``MAX_TX_BODY_BYTES``. No
  msgpack body is decoded by the RPC: a batch's array length is read from the
  prefix and refused over ``MAX_BATCH_TXS``, each item is sliced out by its bin
  header, and each tx is decoded once, by admission (decoding and re-encoding
  a 28 MiB batch as a whole took 150 ms of event loop). We chose caps over parsing in a
  thread pool because ``json.loads`` holds the GIL for its whole run: a
  thread would not give the loop back. Bodies being read or admitted at once
  hold at most ``MAX_INFLIGHT_BODY_BYTES`` (else 503 ``server_busy``), and a
  body must arrive within ``BODY_READ_TIMEOUT_S``.
* **Txs per sender key**: a bucket per sender public key
  (``sender_rate_per_s``, burst ``sender_burst``) on ``/v1/txs`` and on each
  tx of a batch, refused with ``rate_limited_sender`` (429, per tx in a
  batch). The sender is read from the tx's canonical bytes without decoding
  the body; only admitted txs are charged, so txs forged in someone's name
  (their signature fails) cannot spend that someone's budget.
* **Answers**: a block range holds at most ``MAX_BLOCK_RANGE`` blocks and
  stops adding blocks once its estimated size passes ``MAX_RANGE_BYTES``
  (always at least one); ``to`` is the last height included, so a client pages
  with ``from=to+1``.
* **Input grammar**: heights are ASCII digits only; hashes are exactly 64 hex
  digits; ids follow the contracts' grammar (``node.queries.is_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack
from aiohttp import WSMsgType, web

from chain.errors import InputError, SkillchainError
from chain.types import header_hash
from node.faults import Faults
from node.listeners import (
    ConnectionBudget,
    accepts_per_wakeup,
    guarded,
    install_accept_error_limiter,
)
from node.mempool import Admission
from node.queries import is_id
from node.render import block_json, jsonable, receipt_json
from storage.store import Store, TxLocation

__all__ = [
    "MAX_BATCH_TXS",
    "MAX_BODY_BYTES",
    "MAX_JSON_BODY_BYTES",
    "MAX_RANGE_BYTES",
    "NodeApi",
    "RateLimiter",
    "RpcSettings",
    "TokenBuckets",
    "build_app",
    "client_address",
    "start_rpc",
    "tx_sender",
]

log = logging.getLogger("skillchain.rpc")
CLIENT_KEY = web.RequestKey("client", str)
"""The client address a request is charged to (after trusted proxies)."""

MAX_BODY_BYTES = 32 * 1024 * 1024
"""A msgpack batch: up to ``MAX_BATCH_TXS`` txs, or ~8 large (100-session) txs."""
MAX_JSON_BODY_BYTES = 8 * 1024 * 1024
"""A JSON body (hex doubles the bytes): one tx of up to 4 MiB, or a batch of that."""
MAX_TX_BODY_BYTES = 4 * 1024 * 1024 + 1024
"""A single msgpack tx: no tx is larger than the largest block (4 MiB)."""
MAX_BATCH_TXS = 5_000
MAX_INFLIGHT_BODY_BYTES = 256 * 1024 * 1024
"""Request bodies held at once (read or being admitted), by declared length."""
BODY_READ_TIMEOUT_S = 30.0
ADMIT_SLICE_S = 0.005
"""Admission work done in one go before the loop serves anything else (see
``node.runtime.ADMIT_SLICE_S``): a 5,000-tx batch admitted at once would stall
consensus for a second or more."""
MAX_BLOCK_RANGE = 100
MAX_RANGE_BYTES = 4 * 1024 * 1024
"""Estimated bytes of one block-range answer (a NEW-VIEW-sized block fits alone)."""
WAIT_TIMEOUT_S = 30.0
LISTEN_BACKLOG = 1024
"""The kernel's queue of connections not yet accepted (honest ones wait there in a flood)."""
KEEPALIVE_S = 15.0
"""An idle keep-alive connection is closed after this (clients reconnect cheaply)."""
FIRST_BYTE_S = 10.0
"""A new connection that sends no byte within this is closed."""
PREFIX_SHARE = 4
"""A /24 or /64 gets this many times one address's request and byte budgets."""
BODY_BYTES_PER_S = 32 * 1024 * 1024
"""Body bytes per second per address (burst 2x): a few times what a busy
platform sends (a 4-validator cluster commits ~3 MB/s of 100-session txs)."""
JSON_WEIGHT = 4
MAX_TRACKED = 20_000
"""Keys per bucket table (~270 bytes each, so ~5 MiB a table and ~27 MiB for all five:
requests and body bytes per address and per prefix, txs per sender)."""
MSGPACK = "application/msgpack"

_STATUS_FOR_CODE = {
    "mempool_full": 503,
    "server_busy": 503,
    "not_a_validator": 503,
    "rate_limited": 429,
    "rate_limited_sender": 429,
    "not_found": 404,
    "body_too_large": 413,
    "body_timeout": 408,
    "duplicate_tx": 409,
    "internal_error": 500,
    "timeout": 504,
}


class NodeApi(Protocol):
    """What the RPC needs from a running node."""

    store: Store
    chain_id: str
    faults: Faults

    def submit(self, raw: bytes) -> Admission: ...
    def mempool_has(self, digest: bytes) -> bool: ...
    async def wait_committed(self, digest: bytes, timeout_s: float) -> TxLocation | None: ...
    def status(self) -> dict[str, Any]: ...
    def validators(self) -> list[dict[str, Any]]: ...
    def evidence(self, after: int, limit: int) -> dict[str, Any]: ...
    def metrics(self) -> str: ...
    def query(self, name: str, params: dict[str, str]) -> dict[str, Any]: ...
    def subscribe(self) -> asyncio.Queue[dict[str, Any]]: ...
    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None: ...
    def health(self) -> dict[str, Any]: ...
    def readiness(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RpcSettings:
    """The RPC's budgets (the module docstring says what each bounds)."""

    host: str = "127.0.0.1"
    port: int = 0
    rate_per_s: float = 5_000
    sender_rate_per_s: float = 2_000
    sender_burst: float = 20_000
    trusted_proxies: tuple[str, ...] = ()
    max_connections: int = 4_096
    max_connections_per_address: int = 256
    ssl_context: ssl.SSLContext | None = None
    """HTTPS when set (``node.tls.rpc_context``); the handshake runs inside the
    connection budget (``node.listeners.guarded``)."""
    serve_metrics: bool = True
    """False when /metrics has a listener of its own (``node.metrics_http``)."""

    @classmethod
    def from_config(cls, config: Any, allowance: int) -> RpcSettings:
        """Settings from a ``NodeConfig``; ``allowance`` is the fd-bounded connection
        count (``node.listeners.connection_allowance``), of which the RPC takes
        three quarters and leaves the rest to validator links and outgoing sockets."""
        total = max(4, min(config.rpc_max_connections, allowance * 3 // 4))
        return cls(
            host=config.rpc_host,
            port=config.rpc_port,
            rate_per_s=config.rpc_rate_per_s,
            sender_rate_per_s=config.rpc_sender_rate_per_s,
            sender_burst=10 * config.rpc_sender_rate_per_s,
            trusted_proxies=tuple(config.rpc_trusted_proxies),
            max_connections=total,
            max_connections_per_address=max(
                1, min(config.rpc_max_connections_per_address, total // 4)
            ),
            serve_metrics=getattr(config, "metrics_port", None) is None,
        )


class ApiError(Exception):
    """An answer with a stable code (raised inside handlers)."""

    def __init__(
        self, code: str, message: str, status: int | None = None, close: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_FOR_CODE.get(code, 400)
        self.close = close


# -- token buckets -------------------------------------------------------------------


class TokenBuckets:
    """A token bucket per key (``rate``/s, bursts of ``burst``), at most ``max_keys`` keys.

    The least recently used key is evicted to make room; the new key starts
    with the evicted bucket's tokens (refilled to now), never more than
    ``burst``: eviction under pressure is never more generous than a full bucket.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        max_keys: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.max_keys, self._clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[Hashable, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, bucket: list[float], now: float) -> float:
        return min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)

    def _bucket(self, key: Hashable) -> list[float]:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
            bucket[0], bucket[1] = self._refilled(bucket, now), now
            return bucket
        tokens = self.burst
        if len(self._buckets) >= self.max_keys:
            _, evicted = self._buckets.popitem(last=False)
            tokens = self._refilled(evicted, now)
        bucket = self._buckets[key] = [tokens, now]
        return bucket

    def available(self, key: Hashable) -> float:
        """Tokens ``key`` has now."""
        return self._bucket(key)[0]

    def take(self, key: Hashable, amount: float = 1.0) -> bool:
        """Spend ``amount`` tokens of ``key`` if it has them."""
        bucket = self._bucket(key)
        if bucket[0] < amount:
            return False
        bucket[0] -= amount
        return True

    def charge(self, key: Hashable, amount: float) -> None:
        """Spend ``amount`` whatever is left (into debt down to ``-burst``)."""
        bucket = self._bucket(key)
        bucket[0] = max(-self.burst, bucket[0] - amount)


def address_prefix(address: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) holding ``address``; the address itself if not an IP."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


class RateLimiter:
    """Request and body-byte buckets per client address and per address prefix."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        bytes_per_s: float = BODY_BYTES_PER_S,
        max_keys: int = MAX_TRACKED,
    ) -> None:
        share = PREFIX_SHARE
        self.requests = TokenBuckets(rate, burst, max_keys, clock)
        self.prefix_requests = TokenBuckets(share * rate, share * burst, max_keys, clock)
        self.body_bytes = TokenBuckets(bytes_per_s, 2 * bytes_per_s, max_keys, clock)
        self.prefix_body_bytes = TokenBuckets(
            share * bytes_per_s, 2 * share * bytes_per_s, max_keys, clock
        )

    def allow(self, client: str) -> bool:
        """One request from ``client``: within its address's and its prefix's budget?"""
        prefix = address_prefix(client)
        if self.requests.available(client) < 1 or self.prefix_requests.available(prefix) < 1:
            return False
        self.requests.take(client)
        self.prefix_requests.take(prefix)
        return True

    def allow_bytes(self, client: str, amount: int) -> bool:
        """Reserve ``amount`` body bytes for ``client`` (declared length, weighted)."""
        prefix = address_prefix(client)
        amount = min(amount, int(self.body_bytes.burst))  # a body within limits always fits
        if (
            self.body_bytes.available(client) < amount
            or self.prefix_body_bytes.available(prefix) < amount
        ):
            return False
        self.body_bytes.take(client, amount)
        self.prefix_body_bytes.take(prefix, amount)
        return True

    def charge_bytes(self, client: str, amount: int) -> None:
        """Charge bytes read without a declared length."""
        self.body_bytes.charge(client, amount)
        self.prefix_body_bytes.charge(address_prefix(client), amount)


# -- who is asking -------------------------------------------------------------------

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_networks(entries: Sequence[str]) -> Networks:
    """Addresses or CIDR networks (``10.0.0.0/8``) as networks."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Networks) -> bool:
    return any(ip.version == net.version and ip in net for net in trusted)


def client_address(remote: str | None, forwarded_for: str | None, trusted: Networks) -> str:
    """The address a request's budgets are charged to.

    The TCP peer, unless it is a trusted proxy: then the rightmost address in
    ``X-Forwarded-For`` that is not itself a trusted proxy (entries to its left
    were written by the client and prove nothing). A malformed hop ends the
    walk at the last address we could trust.
    """
    if remote is None:
        return "?"
    peer = _ip(remote)
    if peer is None or not trusted or not _trusted(peer, trusted) or not forwarded_for:
        return remote
    current = str(peer)
    for hop in reversed(forwarded_for.split(",")):
        ip = _ip(hop)
        if ip is None:
            return current
        current = str(ip)
        if not _trusted(ip, trusted):
            return current
    return current


_TX_HEADER = 0x97  # a 7-field array: chain_id, kind, sender, nonce, expires, body, signature
_STR_WIDTH = {0xD9: 1, 0xDA: 2, 0xDB: 4}
_BIN_WIDTH = {0xC4: (1, 0), 0xC5: (2, 0x100), 0xC6: (4, 0x10000)}
"""Length bytes of each bin marker, and the least length that may use it (canonical)."""


def _payload(data: bytes, pos: int, text: bool) -> tuple[int, int] | None:
    """(start, end) of the str (``text``) or bin value at ``pos``; None if not one."""
    if pos >= len(data):
        return None
    marker = data[pos]
    if text and 0xA0 <= marker <= 0xBF:  # fixstr
        start, size = pos + 1, marker & 0x1F
    else:
        width = _STR_WIDTH.get(marker) if text else _BIN_WIDTH.get(marker, (None, 0))[0]
        if width is None:
            return None
        start = pos + 1 + width
        size = int.from_bytes(data[pos + 1 : start], "big")
    return (start, start + size) if start + size <= len(data) else None


def tx_sender(raw: bytes) -> bytes | None:
    """The sender key of an encoded tx, read in place without decoding the tx
    (``chain.types.Tx``); None when the bytes are not shaped like a tx, which
    admission then refuses with its own code."""
    if not raw or raw[0] != _TX_HEADER:
        return None
    chain_id = _payload(raw, 1, text=True)
    kind = _payload(raw, chain_id[1], text=True) if chain_id else None
    sender = _payload(raw, kind[1], text=False) if kind else None
    return raw[sender[0] : sender[1]] if sender else None


# -- msgpack batch framing -------------------------------------------------------------


def _array_count(body: bytes) -> tuple[int, int]:
    """(count, offset of the first item) of the array at the start of ``body``."""
    if not body:
        raise ApiError("decode_error", "body is empty")
    b = body[0]
    if 0x90 <= b <= 0x9F:
        return b & 0x0F, 1
    if b in (0xDC, 0xDD):
        width = 2 if b == 0xDC else 4
        if len(body) < 1 + width:
            raise ApiError("decode_error", "body ends inside the array header")
        count = int.from_bytes(body[1 : 1 + width], "big")
        if count > MAX_BATCH_TXS:
            raise ApiError("batch_too_large", f"a batch holds at most {MAX_BATCH_TXS} txs")
        if count < (16 if b == 0xDC else 0x10000):
            raise ApiError("decode_error", "non-canonical encoding of the array length")
        return count, 1 + width
    if b == 0xC1:
        raise ApiError("decode_error", "body is not msgpack (0xc1)")
    raise ApiError("bad_request", "a msgpack batch body is an array of tx byte strings")


def batch_spans(body: bytes) -> list[tuple[int, int]]:
    """Where each tx of a msgpack batch lies in ``body``, read from the framing only.

    The count is checked before any item is looked at; each item must be a bin
    in its shortest form and nothing may follow the last one (canonical msgpack,
    ``chain.codec``). The txs themselves are decoded later, one at a time.
    """
    count, pos = _array_count(body)
    spans = []
    for _ in range(count):
        if pos >= len(body):
            raise ApiError("decode_error", "body ends before the last tx")
        marker = body[pos]
        if marker not in _BIN_WIDTH:
            raise ApiError("bad_request", "a msgpack batch body is an array of tx byte strings")
        width, least = _BIN_WIDTH[marker]
        start = pos + 1 + width
        size = int.from_bytes(body[pos + 1 : start], "big")
        if start > len(body) or size < least:
            raise ApiError("decode_error", "truncated or non-canonical tx byte string")
        if start + size > len(body):
            raise ApiError("decode_error", "body ends inside a tx")
        spans.append((start, start + size))
        pos = start + size
    if pos != len(body):
        raise ApiError("decode_error", "trailing bytes after the batch")
    return spans


# -- bodies ----------------------------------------------------------------------------


class _Bodies:
    """Reads request bodies within their budgets (module docstring)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.in_flight = 0

    @contextlib.asynccontextmanager
    async def reading(self, request: web.Request, limit: int) -> AsyncIterator[bytes]:
        """The body, read and held within the in-flight budget for the block's duration."""
        declared = request.content_length
        if declared is not None and declared > limit:
            raise ApiError(
                "body_too_large", f"request body exceeds {limit} bytes", close=True
            )
        weight = JSON_WEIGHT if request.content_type != MSGPACK else 1
        client = request.get(CLIENT_KEY, "?")
        if declared is not None and not self.limiter.allow_bytes(client, declared * weight):
            raise ApiError("rate_limited", "too many body bytes from this client; slow down")
        reserved = declared if declared is not None else limit
        if self.in_flight + reserved > MAX_INFLIGHT_BODY_BYTES:
            raise ApiError("server_busy", "too many request bodies in flight; retry shortly")
        self.in_flight += reserved
        try:
            body = await _read_limited(request, limit)
            if declared is None:
                self.limiter.charge_bytes(client, len(body) * weight)
            yield body
        finally:
            self.in_flight -= reserved


async def _read_limited(request: web.Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_READ_TIMEOUT_S):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        "body_too_large", f"request body exceeds {limit} bytes", close=True
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(
            "body_timeout", f"body not received within {BODY_READ_TIMEOUT_S:.0f} s", close=True
        ) from None
    return b"".join(chunks)


def _json_txs(body: bytes, batch: bool) -> list[bytes]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError("malformed_json", "body is not valid JSON") from None
    field = "txs" if batch else "tx"
    if not isinstance(document, dict) or set(document) != {field}:
        raise ApiError("bad_request", f'JSON body must be {{"{field}": ...}} and nothing else')
    items = document[field] if batch else [document[field]]
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ApiError("bad_request", f"{field} must be hex of the canonical tx bytes")
    if len(items) > MAX_BATCH_TXS:
        raise ApiError("batch_too_large", f"a batch holds at most {MAX_BATCH_TXS} txs")
    try:
        txs = [bytes.fromhex(item) for item in items]
    except ValueError:
        raise ApiError("bad_request", "tx is not hex") from None
    if any(2 * len(tx) != len(item) for tx, item in zip(txs, items, strict=True)):
        raise ApiError("bad_request", "tx is not hex (no spaces)")  # fromhex skips spaces
    return txs


def _msgpack_tx(body: bytes) -> bytes:
    """The tx of a single-tx msgpack body: the tx itself, or its bytes as one bin.

    A bin is unwrapped by its header; anything else is handed to admission as
    it is, which decodes it once (and refuses it with ``decode_error``).
    """
    if body and body[0] in _BIN_WIDTH:
        width, least = _BIN_WIDTH[body[0]]
        start = 1 + width
        size = int.from_bytes(body[1:start], "big")
        if len(body) < start or size < least or start + size != len(body):
            raise ApiError("decode_error", "body is not one canonical msgpack byte string")
        return body[start:]
    return body


# -- the application -------------------------------------------------------------------


def _answer(request: web.Request, body: Any, status: int = 200) -> web.Response:
    if MSGPACK in request.headers.get("Accept", ""):
        return web.Response(
            body=msgpack.packb(body, use_bin_type=True), status=status, content_type=MSGPACK
        )
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _error(code: str, message: str, status: int, close: bool = False) -> web.Response:
    response = web.json_response({"code": code, "message": message}, status=status)
    if close:  # the body was not read: do not make aiohttp drain it
        response.force_close()
    return response


def _middleware(
    limiter: RateLimiter, trusted: Networks, faults: Faults
) -> Callable[..., Awaitable[web.StreamResponse]]:
    def refuse(code: str, message: str, status: int, close: bool = False) -> web.Response:
        faults.drop("rpc", code)
        return _error(code, message, status, close)

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        client = client_address(
            request.remote, request.headers.get("X-Forwarded-For"), trusted
        )
        request[CLIENT_KEY] = client
        if not limiter.allow(client):
            return refuse("rate_limited", "too many requests from this client; slow down", 429)
        try:
            return await handler(request)
        except ApiError as exc:
            return refuse(exc.code, exc.message, exc.status, exc.close)
        except web.HTTPRequestEntityTooLarge:
            return refuse(
                "body_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes", 413, True
            )
        except web.HTTPException as exc:
            code = "not_found" if exc.status == 404 else "http_error"
            return refuse(code, exc.reason or "request refused", exc.status)
        except SkillchainError as exc:
            if isinstance(exc, InputError):
                return refuse(exc.code, exc.message, 400)
            log.error("error serving %s %s: %s", request.method, request.path, exc.message)
            return _error(exc.code, exc.message, 500)
        except Exception:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            return _error("internal_error", "the node failed to answer; see its log", 500)

    return middleware


def build_app(node: NodeApi, settings: RpcSettings | None = None) -> web.Application:
    """The aiohttp application serving ``node``."""
    settings = settings or RpcSettings()
    faults = getattr(node, "faults", None) or Faults()
    limiter = RateLimiter(settings.rate_per_s, 2 * settings.rate_per_s)
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[_middleware(limiter, parse_networks(settings.trusted_proxies), faults)],
    )
    handlers = _Handlers(node, settings, limiter, faults)
    app.add_routes(
        [
            web.post("/v1/txs", handlers.submit),
            web.post("/v1/txs/batch", handlers.submit_batch),
            web.get("/v1/txs/{hash}", handlers.tx_status),
            web.get("/v1/blocks/latest", handlers.latest_block),
            web.get("/v1/blocks/{height}", handlers.block),
            web.get("/v1/blocks", handlers.block_range),
            web.get("/v1/validators", handlers.validators),
            web.get("/v1/status", handlers.status),
            web.get("/v1/query/{name}", handlers.query),
            web.get("/v1/credential", handlers.credential),
            web.get("/v1/evidence", handlers.evidence),
            web.get("/v1/stream", handlers.stream),
            web.get("/v1/openapi.json", handlers.openapi),
            web.get("/health", handlers.health),
            web.get("/ready", handlers.ready),
        ]
    )
    if settings.serve_metrics:
        app.add_routes([web.get("/metrics", handlers.metrics)])
    return app


class _BudgetedSite(web.BaseSite):
    """A TCP site whose connections go through a ``node.listeners.ConnectionBudget``."""

    __slots__ = ("_host", "_port", "_budget", "_tls")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        budget: ConnectionBudget,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner)
        self._host, self._port, self._budget, self._tls = host, port, budget, tls

    @property
    def name(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("runner not set up")
        loop = asyncio.get_running_loop()
        sock = socket.create_server((self._host, self._port), backlog=LISTEN_BACKLOG)
        # asyncio accepts up to ``backlog`` connections per wake-up before any of them
        # reaches the budget, so that number must fit in the descriptors left over;
        # the kernel's queue is then set back to LISTEN_BACKLOG.
        self._server = await loop.create_server(
            guarded(server, self._budget, FIRST_BYTE_S, self._tls),
            sock=sock,
            backlog=accepts_per_wakeup(self._budget.total),
        )
        sock.listen(LISTEN_BACKLOG)


async def start_rpc(node: NodeApi, settings: RpcSettings) -> web.AppRunner:
    """Serve ``node`` on ``settings.host:port`` within the connection budgets; the
    caller cleans the returned runner up."""
    faults = getattr(node, "faults", None) or Faults()
    install_accept_error_limiter(asyncio.get_running_loop(), faults)
    runner = web.AppRunner(
        build_app(node, settings), access_log=None, keepalive_timeout=KEEPALIVE_S
    )
    await runner.setup()
    proxies = parse_networks(settings.trusted_proxies)
    exempt = [str(net.network_address) for net in proxies if net.num_addresses == 1]
    budget = ConnectionBudget(
        settings.max_connections, settings.max_connections_per_address, faults, "rpc", exempt
    )
    site = _BudgetedSite(runner, settings.host, settings.port, budget, settings.ssl_context)
    await site.start()
    log.info(
        "rpc on %s: at most %d connections, %d per address",
        site.name, budget.total, budget.per_address,
    )
    return runner


# -- parameters ------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]{1,18}")
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")


def _hex32(text: str, what: str) -> bytes:
    if not _HEX32.fullmatch(text):
        raise ApiError("bad_request", f"{what} must be 32 bytes as 64 hex digits")
    return bytes.fromhex(text)


def _int_param(request: web.Request, name: str, default: int | None = None) -> int:
    raw = request.match_info.get(name) or request.query.get(name)
    if raw is None:
        if default is None:
            raise ApiError("bad_request", f"parameter {name} is required")
        return default
    if not _DIGITS.fullmatch(raw):
        raise ApiError(
            "bad_request", f"parameter {name} must be a non-negative integer in ASCII digits"
        )
    return int(raw)


def _admission_json(admission: Admission) -> dict[str, Any]:
    answer: dict[str, Any] = {"hash": admission.tx_hash.hex() if admission.tx_hash else None}
    if not admission.ok:
        answer.update(code=admission.code, message=admission.message)
    return answer


_SENDER_LIMITED = Admission(
    None, "rate_limited_sender", "too many txs from this sender key; slow down"
)


class _Handlers:
    def __init__(
        self, node: NodeApi, settings: RpcSettings, limiter: RateLimiter, faults: Faults
    ) -> None:
        self.node = node
        self.suite = node.store.suite
        self.faults = faults
        self.bodies = _Bodies(limiter)
        self.senders = TokenBuckets(settings.sender_rate_per_s, settings.sender_burst)

    def _admit(self, raw: bytes) -> Admission:
        """Admit one tx within its sender's budget; only admitted txs are charged."""
        sender = tx_sender(raw)
        if sender is not None and self.senders.available(sender) < 1:
            return _SENDER_LIMITED
        admission = self.node.submit(raw)
        if admission.ok and sender is not None:
            self.senders.take(sender)
        return admission

    @staticmethod
    def _single_tx(request: web.Request, body: bytes) -> bytes:
        if request.content_type == MSGPACK:
            return _msgpack_tx(body)
        return _json_txs(body, batch=False)[0]

    @staticmethod
    def _limit(request: web.Request, batch: bool) -> int:
        if request.content_type != MSGPACK:
            return MAX_JSON_BODY_BYTES
        return MAX_BODY_BYTES if batch else MAX_TX_BODY_BYTES

    async def submit(self, request: web.Request) -> web.Response:
        async with self.bodies.reading(request, self._limit(request, False)) as body:
            admission = self._admit(self._single_tx(request, body))
        if not admission.ok:
            raise ApiError(admission.code, admission.message)
        answer = {"hash": admission.tx_hash.hex(), "status": "pending"}
        if request.query.get("wait") == "commit":
            location = await self.node.wait_committed(admission.tx_hash, WAIT_TIMEOUT_S)
            if location is None:
                raise ApiError(
                    "timeout", "tx admitted but not committed in time; poll /v1/txs/{hash}"
                )
            answer.update(self._tx_status(admission.tx_hash, location))
        return _answer(request, answer, 202 if answer["status"] == "pending" else 200)

    async def submit_batch(self, request: web.Request) -> web.Response:
        async with self.bodies.reading(request, self._limit(request, True)) as body:
            if request.content_type == MSGPACK:
                spans = batch_spans(body)
                items: Sequence[bytes | tuple[int, int]] = spans
            else:
                items = _json_txs(body, batch=True)
            results = []
            deadline = time.perf_counter() + ADMIT_SLICE_S
            for item in items:
                if time.perf_counter() >= deadline:
                    await asyncio.sleep(0)  # let consensus messages in between slices
                    deadline = time.perf_counter() + ADMIT_SLICE_S
                raw = body[item[0] : item[1]] if isinstance(item, tuple) else item
                admission = self._admit(raw)
                if not admission.ok:
                    self.faults.drop("rpc", admission.code)
                results.append(_admission_json(admission))
        admitted = sum(1 for r in results if "code" not in r)
        return _answer(request, {"admitted": admitted, "results": results})

    def _tx_status(self, digest: bytes, location: TxLocation) -> dict[str, Any]:
        receipts = self.node.store.receipts(location.height) or []
        receipt = receipts[location.index]
        return {
            "status": "committed",
            "height": location.height,
            "index": location.index,
            "receipt": receipt_json(receipt),
        }

    async def tx_status(self, request: web.Request) -> web.Response:
        digest = _hex32(request.match_info["hash"], "tx hash")
        location = self.node.store.tx_location(digest)
        if location is not None:
            return _answer(request, {"hash": digest.hex(), **self._tx_status(digest, location)})
        if self.node.mempool_has(digest):
            return _answer(request, {"hash": digest.hex(), "status": "pending"})
        raise ApiError("not_found", "no such tx pending or committed on this node")

    def _block_view(self, request: web.Request, height: int) -> tuple[Any, int]:
        """The block at ``height`` as answered, and an estimate of its answer's bytes."""
        store = self.node.store
        block = store.block(height)
        if block is None:
            raise ApiError("not_found", f"no block at height {height}; head is {store.head.height}")
        cert = store.certificate(height)
        raw = block.encode()
        if MSGPACK in request.headers.get("Accept", ""):
            cert_raw = cert.encode() if cert else None
            return [raw, cert_raw], len(raw) + len(cert_raw or b"") + 16
        view = block_json(self.suite, block, header_hash(self.suite, block.header), cert)
        receipts = store.receipts(height) or []
        view["receipts"] = [receipt_json(r) for r in receipts]
        # raw hex twice (block and each tx), the body as JSON, per-tx and receipt fields
        return view, 5 * len(raw) + 400 * len(block.txs) + 4096

    async def block(self, request: web.Request) -> web.Response:
        return _answer(request, self._block_view(request, _int_param(request, "height"))[0])

    async def latest_block(self, request: web.Request) -> web.Response:
        head = self.node.store.head
        if head.height == 0:
            raise ApiError("not_found", "no block committed yet (only genesis)")
        return _answer(request, self._block_view(request, head.height)[0])

    async def block_range(self, request: web.Request) -> web.Response:
        """Blocks ``from``..``to``, cut at ``MAX_BLOCK_RANGE`` blocks and ``MAX_RANGE_BYTES``;
        the answer's ``to`` is the last height it holds."""
        start = _int_param(request, "from", 1)
        head = self.node.store.head.height
        end = min(
            _int_param(request, "to", start + MAX_BLOCK_RANGE - 1),
            head,
            start + MAX_BLOCK_RANGE - 1,
        )
        blocks, size, last = [], 0, end
        for height in range(max(1, start), end + 1):
            view, estimate = self._block_view(request, height)
            if blocks and size + estimate > MAX_RANGE_BYTES:
                last = height - 1
                break
            blocks.append(view)
            size += estimate
        return _answer(request, {"from": start, "to": last, "head": head, "blocks": blocks})

    async def validators(self, request: web.Request) -> web.Response:
        return _answer(request, {"validators": self.node.validators()})

    async def status(self, request: web.Request) -> web.Response:
        return _answer(request, self.node.status())

    async def query(self, request: web.Request) -> web.Response:
        params = {k: v for k, v in request.query.items()}
        return _answer(request, self.node.query(request.match_info["name"], params))

    async def evidence(self, request: web.Request) -> web.Response:
        """Equivocation this node has seen: two votes, or two proposals, for one slot;
        a page of entries after the cursor ``?after=`` (``node.evidence``: ``?limit=`` at
        most 100, stable order, ``next`` is the cursor of the following page)."""
        after, limit = _int_param(request, "after", 0), _int_param(request, "limit", 100)
        return _answer(request, self.node.evidence(after, limit))

    async def credential(self, request: web.Request) -> web.Response:
        """A portable learning credential (``node.audit.credential``), verifiable offline."""
        from node.audit.credential import build_credential

        trainee = _hex32(request.query.get("trainee", ""), "trainee")
        class_id = request.query.get("class", "")
        if not is_id(class_id):
            raise ApiError("bad_request", "class must be an id: 1..64 characters, no '/'")
        bundle = build_credential(
            self.node.store, getattr(self.node, "genesis_hash", None), class_id, trainee
        )
        return _answer(request, bundle)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.node.metrics(), content_type="text/plain", charset="utf-8")

    async def health(self, request: web.Request) -> web.Response:
        """Alive: answered whenever the process serves (``node.health``)."""
        return web.json_response(self.node.health())

    async def ready(self, request: web.Request) -> web.Response:
        """Synced and connected to a quorum: 200, else 503 saying which check fails."""
        body = self.node.readiness()
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def openapi(self, request: web.Request) -> web.Response:
        from node.openapi import OPENAPI

        return web.json_response(OPENAPI)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(heartbeat=20)
        await socket.prepare(request)
        queue = self.node.subscribe()
        try:
            reader = asyncio.ensure_future(socket.receive())
            while not socket.closed:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    message = reader.result()
                    if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                        break
                    reader = asyncio.ensure_future(socket.receive())
                    continue
                await socket.send_json(jsonable(getter.result()))
        finally:
            self.node.unsubscribe(queue)
            await socket.close()
        return socket
