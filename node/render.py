"""JSON views of chain structures for the RPC and the CLI's ``--json``.

Byte strings become lowercase hex. Every view of a block or tx also carries
``raw``, the hex of its canonical encoding, because the JSON view is for
reading and the raw bytes are what hashes and signatures cover.
"""

from __future__ import annotations

from typing import Any

from chain.codec import Value
from chain.crypto import CryptoSuite
from chain.types import Block, BlockHeader, CommitCertificate, Receipt, ReceiptStatus, Tx, tx_hash

__all__ = ["block_json", "certificate_json", "header_json", "jsonable", "receipt_json", "tx_json"]


def jsonable(value: Value) -> Any:
    """A decoded canonical value as JSON (bytes as hex)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def header_json(suite: CryptoSuite, header: BlockHeader, block_hash: bytes) -> dict[str, Any]:
    view = {name: jsonable(getattr(header, name)) for name in header._fields}
    view["hash"] = block_hash.hex()
    return view


def tx_json(suite: CryptoSuite, tx: Tx) -> dict[str, Any]:
    return {
        "hash": tx_hash(suite, tx).hex(),
        "kind": tx.kind,
        "sender": tx.sender.hex(),
        "nonce": tx.nonce,
        "expires": tx.expires,
        "body": jsonable(tx.body),
        "raw": tx.encode().hex(),
    }


def certificate_json(cert: CommitCertificate) -> dict[str, Any]:
    return {
        "height": cert.height,
        "view": cert.view,
        "block_hash": cert.block_hash.hex(),
        "signers": cert.signers.hex(),
        "signatures": [s.hex() for s in cert.signatures],
        "raw": cert.encode().hex(),
    }


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {
        "status": "accepted" if receipt.status == ReceiptStatus.ACCEPTED else "rejected",
        "code": receipt.code,
        "events": [{"kind": e.kind, "data": jsonable(e.data)} for e in receipt.events],
    }


def block_json(
    suite: CryptoSuite, block: Block, block_hash: bytes, cert: CommitCertificate | None
) -> dict[str, Any]:
    return {
        "header": header_json(suite, block.header, block_hash),
        "txs": [tx_json(suite, tx) for tx in block.txs],
        "certificate": None if cert is None else certificate_json(cert),
        "raw": block.encode().hex(),
    }
