"""HTTP RPC under ``/v1`` (aiohttp): submit signed txs, read the chain, query contracts.

Every answer is JSON unless the client sends ``Accept: application/msgpack``,
in which case block and tx bodies come as their canonical bytes (what catch-up
and the auditor's replay want). Every error is ``{"code", "message"}`` with a
fitting HTTP status, never a traceback: a middleware turns our typed errors
into answers and anything unexpected into a logged ``internal_error``.

No endpoint changes state except by admitting a signed tx; the signature,
not the HTTP caller, is the authority.

Limits: request bodies are capped (``MAX_BODY_BYTES``), batches are capped in
count, and each client address has a token bucket (``RateLimiter``) so that
one client cannot crowd out the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgpack
from aiohttp import WSMsgType, web

from chain.codec import decode
from chain.errors import DecodeError, InputError, SkillchainError
from chain.types import header_hash
from node.mempool import Admission
from node.render import block_json, jsonable, receipt_json
from storage.store import Store, TxLocation

__all__ = ["MAX_BATCH_TXS", "MAX_BODY_BYTES", "NodeApi", "RateLimiter", "build_app"]

log = logging.getLogger("skillchain.rpc")

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_BATCH_TXS = 5_000
ADMIT_SLICE_S = 0.005
"""Admission work done in one go before the loop serves anything else (see
``node.runtime.ADMIT_SLICE_S``): a 5,000-tx batch admitted at once would stall
consensus for a second or more."""
MAX_BLOCK_RANGE = 100
WAIT_TIMEOUT_S = 30.0
MSGPACK = "application/msgpack"

_STATUS_FOR_CODE = {
    "mempool_full": 503,
    "rate_limited": 429,
    "not_found": 404,
    "body_too_large": 413,
    "duplicate_tx": 409,
    "internal_error": 500,
    "timeout": 504,
}


class NodeApi(Protocol):
    """What the RPC needs from a running node."""

    store: Store
    chain_id: str

    def submit(self, raw: bytes) -> Admission: ...
    def mempool_has(self, digest: bytes) -> bool: ...
    async def wait_committed(self, digest: bytes, timeout_s: float) -> TxLocation | None: ...
    def status(self) -> dict[str, Any]: ...
    def validators(self) -> list[dict[str, Any]]: ...
    def evidence(self) -> list[dict[str, Any]]: ...
    def metrics(self) -> str: ...
    def query(self, name: str, params: dict[str, str]) -> dict[str, Any]: ...
    def subscribe(self) -> asyncio.Queue[dict[str, Any]]: ...
    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None: ...


class ApiError(Exception):
    """An answer with a stable code (raised inside handlers)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_FOR_CODE.get(code, 400)


class RateLimiter:
    """A token bucket per client address: ``rate`` requests/s, bursts of ``burst``."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        now = self._clock()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1, now)
        if len(self._buckets) > 100_000:  # forget idle clients; bounded memory
            self._buckets.clear()
        return True


def _answer(request: web.Request, body: Any, status: int = 200) -> web.Response:
    if MSGPACK in request.headers.get("Accept", ""):
        return web.Response(
            body=msgpack.packb(body, use_bin_type=True), status=status, content_type=MSGPACK
        )
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _error(request: web.Request, code: str, message: str, status: int) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _error_middleware(limiter: RateLimiter) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]
    ):
        client = request.remote or "?"
        if not limiter.allow(client):
            return _error(
                request, "rate_limited", "too many requests from this client; slow down", 429
            )
        try:
            return await handler(request)
        except ApiError as exc:
            return _error(request, exc.code, exc.message, exc.status)
        except web.HTTPRequestEntityTooLarge:
            return _error(
                request, "body_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes", 413
            )
        except web.HTTPException as exc:
            code = "not_found" if exc.status == 404 else "http_error"
            return _error(request, code, exc.reason or "request refused", exc.status)
        except SkillchainError as exc:
            return _error(
                request, exc.code, exc.message, 400 if isinstance(exc, InputError) else 500
            )
        except Exception:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            return _error(request, "internal_error", "the node failed to answer; see its log", 500)

    return middleware


def build_app(node: NodeApi, rate_per_s: float = 2_000, burst: float = 4_000) -> web.Application:
    """The aiohttp application serving ``node``."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[_error_middleware(RateLimiter(rate_per_s, burst))],
    )
    handlers = _Handlers(node)
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
            web.get("/metrics", handlers.metrics),
        ]
    )
    return app


def _hex32(text: str, what: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ApiError("bad_request", f"{what} must be hex") from None
    if len(value) != 32:
        raise ApiError("bad_request", f"{what} must be 32 bytes of hex")
    return value


def _int_param(request: web.Request, name: str, default: int | None = None) -> int:
    raw = request.match_info.get(name) or request.query.get(name)
    if raw is None:
        if default is None:
            raise ApiError("bad_request", f"parameter {name} is required")
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError("bad_request", f"parameter {name} must be a non-negative integer")
    return int(raw)


async def _raw_txs(request: web.Request, batch: bool) -> list[bytes]:
    """Tx bytes from the body: msgpack (bin, or a list of bin) or JSON with hex strings."""
    body = await request.read()
    if request.content_type == MSGPACK:
        try:
            value = decode(body)
        except DecodeError as exc:
            raise ApiError(
                "decode_error", f"body is not canonical msgpack: {exc.message}"
            ) from None
        if not batch:  # the body is the tx itself, or the tx's bytes as one bin value
            return [value if isinstance(value, bytes) else bytes(body)]
        if not isinstance(value, list) or not all(isinstance(i, bytes) for i in value):
            raise ApiError("bad_request", "a msgpack batch body is an array of tx byte strings")
        return value
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
    try:
        return [bytes.fromhex(item) for item in items]
    except ValueError:
        raise ApiError("bad_request", "tx is not hex") from None


def _admission_json(admission: Admission) -> dict[str, Any]:
    answer: dict[str, Any] = {"hash": admission.tx_hash.hex() if admission.tx_hash else None}
    if not admission.ok:
        answer.update(code=admission.code, message=admission.message)
    return answer


class _Handlers:
    def __init__(self, node: NodeApi) -> None:
        self.node = node
        self.suite = node.store.suite

    async def submit(self, request: web.Request) -> web.Response:
        (raw,) = await _raw_txs(request, batch=False)
        admission = self.node.submit(raw)
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
        items = await _raw_txs(request, batch=True)
        if len(items) > MAX_BATCH_TXS:
            raise ApiError("batch_too_large", f"a batch holds at most {MAX_BATCH_TXS} txs")
        results = []
        deadline = time.perf_counter() + ADMIT_SLICE_S
        for raw in items:
            if time.perf_counter() >= deadline:
                await asyncio.sleep(0)  # let consensus messages in between slices
                deadline = time.perf_counter() + ADMIT_SLICE_S
            results.append(_admission_json(self.node.submit(raw)))
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

    def _block_view(self, request: web.Request, height: int) -> Any:
        store = self.node.store
        block = store.block(height)
        if block is None:
            raise ApiError("not_found", f"no block at height {height}; head is {store.head.height}")
        cert = store.certificate(height)
        if MSGPACK in request.headers.get("Accept", ""):
            return [block.encode(), cert.encode() if cert else None]
        view = block_json(self.suite, block, header_hash(self.suite, block.header), cert)
        receipts = store.receipts(height) or []
        view["receipts"] = [receipt_json(r) for r in receipts]
        return view

    async def block(self, request: web.Request) -> web.Response:
        return _answer(request, self._block_view(request, _int_param(request, "height")))

    async def latest_block(self, request: web.Request) -> web.Response:
        head = self.node.store.head
        if head.height == 0:
            raise ApiError("not_found", "no block committed yet (only genesis)")
        return _answer(request, self._block_view(request, head.height))

    async def block_range(self, request: web.Request) -> web.Response:
        start = _int_param(request, "from", 1)
        head = self.node.store.head.height
        end = min(
            _int_param(request, "to", start + MAX_BLOCK_RANGE - 1),
            head,
            start + MAX_BLOCK_RANGE - 1,
        )
        blocks = [self._block_view(request, h) for h in range(max(1, start), end + 1)]
        return _answer(request, {"from": start, "to": end, "head": head, "blocks": blocks})

    async def validators(self, request: web.Request) -> web.Response:
        return _answer(request, {"validators": self.node.validators()})

    async def status(self, request: web.Request) -> web.Response:
        return _answer(request, self.node.status())

    async def query(self, request: web.Request) -> web.Response:
        params = {k: v for k, v in request.query.items()}
        return _answer(request, self.node.query(request.match_info["name"], params))

    async def evidence(self, request: web.Request) -> web.Response:
        """Equivocation this node has seen: two votes, or two proposals, for one slot."""
        return _answer(request, {"evidence": self.node.evidence()})

    async def credential(self, request: web.Request) -> web.Response:
        """A portable learning credential (``node.audit.credential``), verifiable offline."""
        from node.audit.credential import build_credential

        trainee = _hex32(request.query.get("trainee", ""), "trainee")
        bundle = build_credential(
            self.node.store,
            getattr(self.node, "genesis_hash", None),
            request.query.get("class", ""),
            trainee,
        )
        return _answer(request, bundle)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.node.metrics(), content_type="text/plain", charset="utf-8")

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
