"""A small Python client: build, sign and submit txs; read blocks and queries.

Platforms written in other languages do the same with any msgpack library and
an Ed25519 implementation; ``tests/vectors/tx_signing.json`` pins the exact
bytes, hash and signature for a fixed key so they can check themselves.

Nonces need no coordination: each ``TxBuilder`` starts at a random 62-bit
offset and counts up, so many workers can sign for one key at once; a tx is
unique by its hash within its expiry window.
"""

from __future__ import annotations

import secrets
import ssl
from typing import Any

import aiohttp

from chain.codec import Value, decode
from chain.crypto import Signer
from chain.errors import SkillchainError
from chain.records import Record
from chain.types import Block, CommitCertificate, Tx, sign_tx

__all__ = ["Client", "ClientError", "TxBuilder"]

MSGPACK = "application/msgpack"


class ClientError(SkillchainError):
    """The node answered with an error (``code`` is the node's code)."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class TxBuilder:
    """Signs txs for one key on one chain with coordination-free nonces."""

    def __init__(self, signer: Signer, chain_id: str, expiry_heights: int = 500) -> None:
        self.signer = signer
        self.chain_id = chain_id
        self.expiry_heights = expiry_heights
        self._nonce = secrets.randbits(62)

    def build(self, kind: str, body: Record | Value, head_height: int) -> Tx:
        """A signed tx valid until ``head_height + expiry_heights``."""
        self._nonce += 1
        wire = body.to_wire() if isinstance(body, Record) else body
        return sign_tx(
            self.signer, self.chain_id, kind, self._nonce, head_height + self.expiry_heights, wire
        )


class Client:
    """Async HTTP client for one node's ``/v1`` RPC."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 60,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` for an HTTPS node whose certificate the system does not
        trust, or that requires a client certificate (``node.tls.client_context``)."""
        self.url = url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._ssl = ssl_context

    async def __aenter__(self) -> Client:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, raw: bool = False, **kwargs: Any) -> Any:
        assert self._session is not None, "use `async with Client(...)`"
        headers = kwargs.pop("headers", {})
        if raw:
            headers["Accept"] = MSGPACK
        try:
            async with self._session.request(
                method, self.url + path, headers=headers, **kwargs
            ) as answer:
                body = await answer.read()
                if answer.status >= 400:
                    try:
                        error = await answer.json(content_type=None)
                        raise ClientError(
                            error.get("code", "http_error"), error.get("message", ""), answer.status
                        )
                    except (ValueError, aiohttp.ContentTypeError):
                        raise ClientError(
                            "http_error", f"HTTP {answer.status}", answer.status
                        ) from None
                if raw and answer.content_type == MSGPACK:
                    import msgpack

                    return msgpack.unpackb(body, raw=False)
                return await answer.json(content_type=None)
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise ClientError("unreachable", f"cannot reach {self.url}: {exc}") from None

    async def submit(self, tx: Tx, wait: bool = False) -> dict[str, Any]:
        params = {"wait": "commit"} if wait else {}
        return await self._call(
            "POST", "/v1/txs", data=tx.encode(), params=params, headers={"Content-Type": MSGPACK}
        )

    async def submit_batch(self, txs: list[Tx]) -> dict[str, Any]:
        import msgpack

        body = msgpack.packb([tx.encode() for tx in txs], use_bin_type=True)
        return await self._call(
            "POST", "/v1/txs/batch", data=body, headers={"Content-Type": MSGPACK}
        )

    async def tx(self, digest: bytes | str) -> dict[str, Any]:
        text = digest.hex() if isinstance(digest, bytes) else digest
        return await self._call("GET", f"/v1/txs/{text}")

    async def status(self) -> dict[str, Any]:
        return await self._call("GET", "/v1/status")

    async def validators(self) -> dict[str, Any]:
        return await self._call("GET", "/v1/validators")

    async def block(self, height: int) -> dict[str, Any]:
        return await self._call("GET", f"/v1/blocks/{height}")

    async def raw_blocks(
        self, start: int, end: int
    ) -> list[tuple[Block, CommitCertificate | None]]:
        """Blocks ``start..end`` as decoded records (for replay and catch-up)."""
        answer = await self._call("GET", "/v1/blocks", raw=True, params={"from": start, "to": end})
        result = []
        for block_raw, cert_raw in answer["blocks"]:
            block = Block.from_wire(decode(block_raw))
            cert = None if cert_raw is None else CommitCertificate.from_wire(decode(cert_raw))
            result.append((block, cert))
        return result

    async def query(self, name: str, **params: Any) -> dict[str, Any]:
        clean = {k: (v.hex() if isinstance(v, bytes) else str(v)) for k, v in params.items()}
        return await self._call("GET", f"/v1/query/{name}", params=clean)
