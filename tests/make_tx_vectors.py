"""Writes tests/vectors/tx_signing.json: cross-language signing vectors.

A platform written in Java, PHP or Go checks its msgpack encoder and signer
against these: for each tx, the fields, the canonical payload bytes, the
signing bytes, the tx hash and the Ed25519 signature for a fixed public seed.
Run ``python -m tests.make_tx_vectors`` to regenerate (the test pins them).
"""

from __future__ import annotations

import json
from pathlib import Path

from chain.codec import encode
from chain.crypto import TAG_TX, get_suite, signing_bytes
from chain.types import sign_tx, tx_hash, tx_payload

PATH = Path(__file__).parent / "vectors" / "tx_signing.json"
SEED = bytes(range(32))
CHAIN = "jiangxi-skills-dev"

CASES = [
    ("registry.suspend_actor", 1, 100, ["provider-ganpo", "audit finding 2026-07"]),
    (
        "learning.record_sessions",
        2**40 + 7,
        5000,
        [
            [
                [
                    "s-0001",
                    b"\x11" * 32,
                    "class-nc-001",
                    "unit-1",
                    "recorded",
                    1767258000,
                    1767261600,
                    3500,
                    [[1767258060, b"\x22" * 32, True], [1767259860, b"\x23" * 32, True]],
                    b"\x33" * 32,
                ]
            ]
        ],
    ),
]


def _hexify(value):
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, list):
        return [_hexify(v) for v in value]
    return value


def build() -> dict:
    suite = get_suite("ed25519-sha256")
    signer = suite.signer_from_seed(SEED)
    vectors = []
    for kind, nonce, expires, body in CASES:
        tx = sign_tx(signer, CHAIN, kind, nonce, expires, body)
        payload = tx_payload(tx)
        vectors.append(
            {
                "kind": kind,
                "nonce": nonce,
                "expires": expires,
                "body": _hexify(body),
                "payload_hex": payload.hex(),
                "signing_bytes_hex": signing_bytes(TAG_TX, CHAIN, payload).hex(),
                "tx_hash_hex": tx_hash(suite, tx).hex(),
                "signature_hex": tx.signature.hex(),
                "tx_hex": tx.encode().hex(),
            }
        )
    return {
        "about": 'skillchain tx signing vectors; bytes are {"bin": hex} in bodies',
        "suite": suite.name,
        "chain_id": CHAIN,
        "seed_hex": SEED.hex(),
        "public_key_hex": signer.public_key.hex(),
        "tag": TAG_TX.decode(),
        "domain_prefix_hex": encode([TAG_TX, CHAIN]).hex(),
        "vectors": vectors,
    }


if __name__ == "__main__":
    PATH.write_text(json.dumps(build(), indent=2) + "\n")
