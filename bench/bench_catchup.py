"""How fast a wiped validator gets back: ``python -m bench.bench_catchup [--blocks N]``.

Starts 4 validators (real processes, links through the chaos proxies), drives
signed load until the chain is ``--blocks`` high, then SIGKILLs one validator,
deletes its database (keeping its vote log, as an operator must) and restarts
it while the load goes on. It times the rebuild from the restart until the node
is within one block of the tip, and ends with ONE line of JSON: ``blocks``,
``catch_up_s``, ``blocks_per_s``, ``txs_in_chain``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from cli.devnet import node_status
from tests.chaos.harness import ChaosNet, Load

VICTIM = 3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def heights(net: ChaosNet) -> list[int]:
    return [(node_status(url) or {}).get("height", -1) for url in net.urls]


def run(tmp: Path, blocks: int, clients: int) -> dict[str, float]:
    net = ChaosNet(tmp, 4)
    try:
        net.start_all()
        load = Load(net, clients=clients, pause_s=0.0, seed=7)
        load.start()
        started = time.monotonic()
        while max(heights(net)) < blocks:
            time.sleep(2)
            log(f"building the chain: height {max(heights(net))} of {blocks} "
                f"({len(load.acked)} txs acknowledged)")
        built_s = time.monotonic() - started
        net.kill(VICTIM)
        net.wipe(VICTIM, keep_wal=True)
        restart = time.monotonic()
        net.start(VICTIM, wait=False)
        behind = max(heights(net))
        while True:
            now = heights(net)
            tip = max(now[i] for i in range(4) if i != VICTIM)
            if now[VICTIM] >= tip - 1:
                break
            if time.monotonic() - restart > 600:
                raise SystemExit("the wiped node did not catch up within 10 minutes")
            time.sleep(0.25)
        took = time.monotonic() - restart
        load.stop()
        txs = len(load.acked)
        log(f"chain built in {built_s:.0f} s; wiped node back at the tip in {took:.1f} s")
        return {"blocks": behind, "catch_up_s": round(took, 1),
                "blocks_per_s": round(behind / took, 1), "txs_in_chain": txs}
    finally:
        net.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_catchup", description=__doc__)
    parser.add_argument("--blocks", type=int, default=1000, help="chain height before the wipe")
    parser.add_argument("--clients", type=int, default=8, help="load clients (wait=commit)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="skillchain-catchup-") as tmp:
        result = run(Path(tmp), args.blocks, args.clients)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
