"""``make bench-state``: state tree, proofs, block commit and disk use.

Runs the state-tree benchmark (``bench.bench_state_tree``) in a child process,
then measures the store: the full commit of a 2,000-tx block (tree update
computed, then one synced LevelDB batch with block, certificate, receipts,
tx index, tree nodes, flat values and head), and bytes on disk per committed
tx after compaction. Signing the txs is outside the timed part.

Ends by printing one line of JSON (the contract other tooling reads).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.storefixtures import commit_puts, ensure_genesis, open_store, put_txs

TXS_PER_BLOCK = 2_000
KEYS_PER_TX = 3


def _tree_figures(quick: bool) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_state_tree"] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _block_puts(height: int) -> dict[bytes, bytes]:
    # Each tx touches three keys of ~60 bytes: a session record, an index, a counter.
    return {
        b"bench/%08d/%05d/%d" % (height, i, k): os.urandom(60)
        for i in range(TXS_PER_BLOCK)
        for k in range(KEYS_PER_TX)
    }


def _commit_figures(blocks: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="skillchain-bench-") as tmp:
        store = open_store(Path(tmp) / "db")
        ensure_genesis(store)
        timings = []
        for height in range(1, blocks + 1):
            puts = _block_puts(height)
            txs = put_txs(height, puts, TXS_PER_BLOCK)
            started = time.perf_counter()
            commit_puts(store, puts, txs=txs)
            timings.append((time.perf_counter() - started) * 1000)
            print(f"  block {height}: {timings[-1]:.1f} ms", file=sys.stderr)
        store._db.compact_range()
        size = store.approximate_size()
        store.close()
    return {
        "commit_ms_2000tx": round(statistics.median(timings), 1),
        "commit_ms_2000tx_max": round(max(timings), 1),
        "disk_bytes_per_tx": round(size / (blocks * TXS_PER_BLOCK)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small trees, few blocks")
    args = parser.parse_args()
    figures = _tree_figures(args.quick)
    figures.update(_commit_figures(3 if args.quick else 10))
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
