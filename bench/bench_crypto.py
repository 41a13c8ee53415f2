"""Crypto-suite benchmark: what choosing ``sm2-sm3`` in genesis costs per operation.

Times, on one core and through the suites' own interfaces (exactly what a
node calls), signature verification and signing under each suite, the plain
hash of a 200-byte message (about one encoded tx), the tagged hasher the
trees use, HMAC for pseudonyms, and a whole tx signature check
(``verify_tx_signature``: encode the payload, prefix the domain, verify).

Verifications cycle through 64 signatures by 8 keys, so neither suite is
timed on a single hot input. Each figure is the best of three runs of at
least ``--seconds`` each.

Prints a table to stderr and ends with ONE line of JSON on stdout with at
least ``ed25519_verify_per_s``, ``sm2_verify_per_s``, ``sha256_per_s`` and
``sm3_per_s``::

    python -m bench.bench_crypto [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable

from chain.crypto import TAG_STATE_NODE, TAG_TX, CryptoSuite, get_suite
from chain.types import sign_tx, verify_tx_signature

MESSAGE_BYTES = 200
KEYS = 8
SIGNATURES = 64
SUITES = {"ed25519": "ed25519-sha256", "sm2": "sm2-sm3"}
HASHES = {"sha256": "ed25519-sha256", "sm3": "sm2-sm3"}


def rate(operation: Callable[[int], None], seconds: float) -> float:
    """Operations per second of ``operation(i)``, best of three timed runs."""
    batch = 1
    while True:  # grow the batch until one batch takes ~1/10 of the budget
        start = time.perf_counter()
        for i in range(batch):
            operation(i)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 10:
            break
        batch *= 2
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for i in range(batch):
                operation(i)
            done += batch
        best = max(best, done / elapsed)
    return best


def signature_rates(suite: CryptoSuite, seconds: float) -> dict[str, float]:
    """Verify, sign and whole-tx verify rates for one suite."""
    keys = [suite.signer_from_seed(bytes([i + 1]) * 32) for i in range(KEYS)]
    messages = [bytes([i]) * MESSAGE_BYTES for i in range(SIGNATURES)]
    items = [
        (keys[i % KEYS].public_key, messages[i], keys[i % KEYS].sign(TAG_TX, "bench", messages[i]))
        for i in range(SIGNATURES)
    ]
    txs = [
        sign_tx(keys[i % KEYS], "bench", "learning.record_sessions", i, 1000, [b"s" * 150])
        for i in range(SIGNATURES)
    ]
    assert all(suite.verify(k, TAG_TX, "bench", m, s) for k, m, s in items)
    assert all(verify_tx_signature(suite, tx) for tx in txs)

    def verify(i: int) -> None:
        key, message, signature = items[i % SIGNATURES]
        suite.verify(key, TAG_TX, "bench", message, signature)

    def sign(i: int) -> None:
        keys[i % KEYS].sign(TAG_TX, "bench", messages[i % SIGNATURES])

    def tx_verify(i: int) -> None:
        verify_tx_signature(suite, txs[i % SIGNATURES])

    return {
        "verify_per_s": rate(verify, seconds),
        "sign_per_s": rate(sign, seconds),
        "tx_verify_per_s": rate(tx_verify, seconds),
    }


def hash_rates(suite: CryptoSuite, seconds: float) -> dict[str, float]:
    """Plain hash, tagged hasher (as the trees use it) and HMAC rates for one suite."""
    message = bytes(range(200))[:MESSAGE_BYTES]
    node = suite.hasher(TAG_STATE_NODE)
    pair = bytes(64)  # a tree node hashes two child digests
    key = bytes(32)
    return {
        "per_s": rate(lambda _: suite.hash(message), seconds),
        "tree_node_per_s": rate(lambda _: node(pair), seconds),
        "hmac_per_s": rate(lambda _: suite.hmac(key, message), seconds),
    }


def cluster_rates(txs: int) -> dict[str, object]:
    """Committed tx/s of a 4-validator network under each suite, same load, same run."""
    import asyncio

    from bench.bench_cluster import run

    out: dict[str, object] = {}
    for short, name in SUITES.items():
        figures = asyncio.run(run(4, txs, 0, 0, name))
        out[f"tx_per_s_{short}"] = figures["tx_per_s"]
    out["tx_per_s_sm2_to_ed25519_ratio"] = round(
        int(out["tx_per_s_sm2"]) / max(1, int(out["tx_per_s_ed25519"])), 3
    )
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement run")
    parser.add_argument(
        "--cluster-txs",
        type=int,
        default=4000,
        help="single-session txs for the 4-validator SM2 cluster run (0: skip)",
    )
    args = parser.parse_args(argv)

    rates: dict[str, float] = {}
    for short, name in SUITES.items():
        for metric, value in signature_rates(get_suite(name), args.seconds).items():
            rates[f"{short}_{metric}"] = value
    for short, name in HASHES.items():
        for metric, value in hash_rates(get_suite(name), args.seconds).items():
            rates[f"{short}_{metric}"] = value
    result: dict[str, object] = {metric: round(value) for metric, value in rates.items()}
    result["sm2_to_ed25519_verify_ratio"] = round(
        rates["sm2_verify_per_s"] / rates["ed25519_verify_per_s"], 3
    )
    result["sm2_to_ed25519_tx_verify_ratio"] = round(
        rates["sm2_tx_verify_per_s"] / rates["ed25519_tx_verify_per_s"], 3
    )
    result["sm3_to_sha256_ratio"] = round(rates["sm3_per_s"] / rates["sha256_per_s"], 3)
    if args.cluster_txs:
        result.update(cluster_rates(args.cluster_txs))
    result["message_bytes"] = MESSAGE_BYTES
    result["python"] = platform.python_version()

    width = max(len(k) for k in result)
    for metric, value in result.items():
        print(f"{metric:<{width}}  {value}", file=sys.stderr)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
