"""``make bench-tls``: what TLS costs a validator network, measured in one run.

The same 4-validator loopback network as ``make bench`` (``bench.bench_cluster``:
N OS processes, every node verifies every tx, one synced LevelDB batch per
block), measured for single-session tx/s twice per round: once plaintext and
once with TLS 1.3 on every validator link (ECDSA P-256 certificates bound to
the validator keys, ``node/tls.py``) and the RPC over HTTPS. Rounds alternate
the order (plain first, then TLS first) so that drift on a shared machine
does not favour either. The figure is ``tls_share`` = tx/s with TLS ÷ without
(the issue's target: >= 0.85), from the medians over rounds.

Ends by printing one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics

from bench.bench_cluster import log, run

__all__ = ["main"]


def measure(validators: int, txs: int, rounds: int) -> dict:
    plain: list[float] = []
    tls: list[float] = []
    for round_ in range(rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        for with_tls in order:
            result = asyncio.run(run(validators, txs, 0, 0, tls=with_tls))
            log(f"round {round_ + 1}, {'TLS' if with_tls else 'plain'}: "
                f"{result['tx_per_s']} tx/s")
            (tls if with_tls else plain).append(result["tx_per_s"])
    plain_rate, tls_rate = statistics.median(plain), statistics.median(tls)
    return {
        "validators": validators,
        "txs": txs,
        "rounds": rounds,
        "tx_per_s_plain": round(plain_rate),
        "tx_per_s_tls": round(tls_rate),
        "tls_share": round(tls_rate / plain_rate, 3) if plain_rate else 0.0,
        "runs_plain": plain,
        "runs_tls": tls,
        "cores": os.cpu_count() or 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--txs", type=int, default=20_000, help="single-session txs per run")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of (plain, TLS); the order alternates")
    args = parser.parse_args()
    print(json.dumps(measure(args.validators, args.txs, args.rounds), sort_keys=True))


if __name__ == "__main__":
    main()
