"""State-tree benchmark: batch update rate, proof size and verify time.

Grows one tree in a temporary LevelDB to 10^4, 10^5 and 10^6 keys (in
batches of 10,000) and at each size times batches of 1,000 and 10,000 mixed
changes (half updates of existing keys, half inserts): ``compute`` +
``write`` + an unsynced ``WriteBatch.write``, as keys per second of wall
time (``updates_per_s_*``), of process CPU time (``cpu_updates_per_s_*``,
LevelDB's compaction threads included) and of the main thread's CPU time
(``thread_cpu_updates_per_s_*``). At the largest size it proves
1,000 random keys and reports the canonical encoding's size and the mean
verify time. One core, single process.

Prints a table to stderr and ends with ONE line of JSON on stdout (the
contract ``bench.bench_state`` reads). ``--quick`` stops at 10^5 keys;
``--tuned-db`` opens the DB with ``TUNED_DB_OPTIONS`` instead of LevelDB's
defaults (which the store uses).

    python -m bench.bench_state_tree [--quick] [--tuned-db]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import plyvel

from chain.codec import encode
from chain.crypto import get_suite
from chain.state_proof import verify_state_proof
from storage.state_tree import StateTree

SUITE = get_suite("ed25519-sha256")
BUILD_BATCH = 10_000
BATCH_SIZES = (1_000, 10_000)
MIN_KEYS_TIMED = 30_000
PROOF_SAMPLES = 1_000
VALUE_BYTES = 60
LABELS = {10_000: "10k", 100_000: "100k", 1_000_000: "1m"}
TUNED_DB_OPTIONS = {
    "write_buffer_size": 64 << 20,  # fewer, larger level-0 files: less compaction
    "compression": None,  # node records are hashes: snappy only burns CPU
    "bloom_filter_bits": 10,  # misses on other levels skip their data blocks
    "lru_cache_size": 128 << 20,  # block cache for node reads (default 8 MiB)
}
"""Options ``--tuned-db`` opens the DB with (the store's own DB uses LevelDB's defaults)."""


class Bench:
    """One growing tree plus the bookkeeping to pick existing and new keys."""

    def __init__(self, db: plyvel.DB, seed: int = 1) -> None:
        self.db = db
        self.tree = StateTree(db, SUITE)
        self.rng = random.Random(seed)
        self.count = 0
        self.version = 0

    def key(self, index: int) -> bytes:
        return b"bench/account/%09d" % index

    def commit(self, changes: dict[bytes, bytes | None]) -> None:
        update = self.tree.compute(self.version, self.version + 1, changes)
        batch = self.db.write_batch()
        self.tree.write(update, batch)
        batch.write()
        self.version += 1

    def grow_to(self, size: int) -> None:
        while self.count < size:
            step = min(BUILD_BATCH, size - self.count)
            value = self.rng.randbytes
            self.commit(
                {self.key(i): value(VALUE_BYTES) for i in range(self.count, self.count + step)}
            )
            self.count += step

    def mixed_batch(self, size: int) -> dict[bytes, bytes | None]:
        value = self.rng.randbytes
        changes: dict[bytes, bytes | None] = {
            self.key(i): value(VALUE_BYTES) for i in self.rng.sample(range(self.count), size // 2)
        }
        inserts = size - len(changes)
        changes.update(
            {self.key(i): value(VALUE_BYTES) for i in range(self.count, self.count + inserts)}
        )
        self.count += inserts
        return changes

    def update_rate(self, batch_keys: int) -> tuple[float, float, float]:
        """Keys per second over enough batches to time ``MIN_KEYS_TIMED`` keys.

        Three clocks: wall time, CPU time of the process (which includes
        LevelDB's background compaction threads) and CPU time of this thread
        alone (the tree's own Python work); on a busy machine the CPU figures
        are the comparable ones.
        """
        rounds = max(3, MIN_KEYS_TIMED // batch_keys)
        wall = cpu = thread = 0.0
        for _ in range(rounds):
            changes = self.mixed_batch(batch_keys)
            start = (time.perf_counter(), time.process_time(), time.thread_time())
            self.commit(changes)
            wall += time.perf_counter() - start[0]
            cpu += time.process_time() - start[1]
            thread += time.thread_time() - start[2]
        keys = rounds * batch_keys
        return keys / wall, keys / cpu, keys / thread

    def proof_figures(self) -> tuple[float, int, float]:
        """(mean proof bytes, max proof bytes, mean verify ms) over random existing keys."""
        root = self.tree.root(self.version)
        samples = []
        for index in self.rng.sample(range(self.count), PROOF_SAMPLES):
            key = self.key(index)
            samples.append(
                (key, self.tree.get(key, self.version), self.tree.prove(key, self.version))
            )
        sizes = [len(encode(proof.to_wire())) for _, _, proof in samples]
        start = time.perf_counter()
        for key, value, proof in samples:
            verify_state_proof(SUITE, root, key, value, proof)
        verify_ms = (time.perf_counter() - start) * 1000 / len(samples)
        return statistics.fmean(sizes), max(sizes), verify_ms


def run(quick: bool, tuned_db: bool = False) -> dict[str, float]:
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-state-tree-") as tmp:
        options: dict = TUNED_DB_OPTIONS if tuned_db else {}
        db = plyvel.DB(str(Path(tmp) / "db"), create_if_missing=True, **options)
        bench = Bench(db)
        for size in sizes:
            start = time.perf_counter()
            bench.grow_to(size)
            build_s = time.perf_counter() - start
            _say(f"grew to {bench.count:>9,} keys in {build_s:7.1f} s")
            for batch_keys in BATCH_SIZES:
                rate, cpu_rate, thread_rate = bench.update_rate(batch_keys)
                label = f"{LABELS[size]}_b{batch_keys}"
                results[f"updates_per_s_{label}"] = round(rate)
                results[f"cpu_updates_per_s_{label}"] = round(cpu_rate)
                results[f"thread_cpu_updates_per_s_{label}"] = round(thread_rate)
                _say(
                    f"  {LABELS[size]:>4} keys, batches of {batch_keys:>6,}: {rate:>9,.0f} keys/s"
                    f" (CPU: process {cpu_rate:,.0f}, main thread {thread_rate:,.0f})"
                )
        if not quick:
            results["updates_per_s_1m"] = min(
                results["updates_per_s_1m_b1000"], results["updates_per_s_1m_b10000"]
            )
        mean_bytes, max_bytes, verify_ms = bench.proof_figures()
        suffix = "100k" if quick else "1m"
        results[f"proof_bytes_{suffix}"] = round(mean_bytes, 1)
        results[f"proof_bytes_{suffix}_max"] = max_bytes
        results[f"proof_verify_ms_{suffix}"] = round(verify_ms, 4)
        _say(
            f"proofs at {bench.count:,} keys: mean {mean_bytes:.0f} B, max {max_bytes} B, "
            f"verify {verify_ms:.3f} ms"
        )
        db.close()
    return results


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 10^5 keys")
    parser.add_argument("--tuned-db", action="store_true", help="open the DB with TUNED_DB_OPTIONS")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.tuned_db)))


if __name__ == "__main__":
    main()
