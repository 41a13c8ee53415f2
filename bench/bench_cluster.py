"""``make bench``: committed throughput and latency of a real validator network.

Setup: N validators as N OS processes on this machine (real sockets, every
node verifies every tx signature with Ed25519, every block is one synced
LevelDB batch). One platform opens classes and enrols trainees; then three
measured runs, each with txs signed *before* the clock starts (signing is the
client's cost, not the network's):

1. **tx/s**: single-session ``learning.record_sessions`` txs submitted as fast
   as the nodes admit them (batches over all nodes); throughput is committed
   txs divided by the time from the first submission to the last commit.
2. **latency**: single-session txs at half the measured tx/s for a fixed
   time; each tx's latency is from its submission to the moment a node's
   block stream announces the block holding it (p50 / p99).
3. **records/s**: the same as 1. with 100 sessions per tx.

Latency is measured right after the tx/s run whose half rate it offers, before
the records run: that run writes ~4 KB of state per session, and LevelDB goes
on compacting it for tens of seconds, which would land in the latency window
of another workload. ``--latency-after-records`` keeps the old order (latency
last) to see that effect.

Also measured in the same run: this machine's Ed25519 verifications per
second on one core, and ``bound_ratio`` = tx/s ÷ (verify/s × cores ÷ N): the
share of the ceiling that signature checking alone would allow when every
node verifies every tx on a shared machine.

Ends by printing one line of JSON (the contract other tooling reads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from chain.crypto import get_suite
from chain.pseudonym import id_check_digit, trainee_pseudonym
from chain.types import Tx, tx_hash
from cli.devnet import rpc_ssl
from node.client import Client, ClientError, TxBuilder
from tests.node.cluster import make_cluster

DAY = 86_400
SESSION_S = 2 * 3600
SECRET = b"skillchain-bench-pseudonym-secret"
SUITE = get_suite("ed25519-sha256")  # rebound by run() to the cluster's suite


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_verify_per_s(seconds: float = 1.0) -> float:
    """Ed25519 verifications per second on one core, for a tx-sized message."""
    signer = SUITE.signer_from_seed(b"\x05" * 32)
    payload = os.urandom(300)
    signature = signer.sign(b"bench", "bench", payload)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            SUITE.verify(signer.public_key, b"bench", "bench", payload, signature)
        count += 200
    return count / (time.perf_counter() - started)


class Plan:
    """Trainees and non-overlapping session slots for them, handed out in order."""

    def __init__(self, builder: TxBuilder, trainees: int, now: int) -> None:
        self.builder = builder
        self.now = now
        self.class_id = "bench-class"
        self.trainees = [trainee_pseudonym(SUITE, SECRET, self._id(n)) for n in range(trainees)]
        self._next = 0

    @staticmethod
    def _id(n: int) -> str:
        first17 = f"3601021990{n:07d}"
        return first17 + id_check_digit(first17)

    def setup_txs(self, head: int, occupation: Any) -> list[list[Tx]]:
        start, end = self.now - 80 * DAY, self.now + 10 * DAY
        open_class = self.builder.build(
            "enrolment.open_class",
            [
                self.class_id,
                "organizer-nc-school",
                occupation.code,
                occupation.edition,
                occupation.level,
                "360100",
                start,
                end,
                10_000_000,
            ],
            head,
        )
        rows = [[t, SUITE.hash(t), "face+id-card"] for t in self.trainees]
        enrol = [
            self.builder.build("enrolment.enrol", [self.class_id, rows[i : i + 500]], head)
            for i in range(0, len(rows), 500)
        ]
        return [[open_class], enrol]

    def sessions(self, count: int) -> list[list]:
        """``count`` sessions, each in a free 2-hour slot of some trainee."""
        out = []
        base = self.now - self.now % DAY - 75 * DAY + 3600
        for _ in range(count):
            n = self._next
            self._next += 1
            trainee = self.trainees[n % len(self.trainees)]
            slot = n // len(self.trainees)
            start = base + (slot // 4) * DAY + (slot % 4) * 9000
            end = start + SESSION_S
            captures = [[t, SUITE.hash(b"%d" % t), True] for t in (*range(start, end, 1500), end)]
            out.append(
                [
                    f"s{n}",
                    trainee,
                    self.class_id,
                    "u1",
                    "recorded",
                    start,
                    end,
                    SESSION_S,
                    captures,
                    SUITE.hash(b"log%d" % n),
                ]
            )
        return out

    def txs(self, count: int, per_tx: int, head: int) -> list[Tx]:
        return [
            self.builder.build("learning.record_sessions", [self.sessions(per_tx)], head)
            for _ in range(count)
        ]


async def submit(clients: list[Client], txs: list[Tx], batch: int = 500) -> None:
    """Submit ``txs`` over all nodes, retrying while a node says it is busy."""
    chunks: list[list[Tx]] = [[]]
    size = 0
    for tx in txs:  # at most ``batch`` txs and ~8 MB per request (a node decodes <= 16 MiB)
        length = len(tx.encode())
        if chunks[-1] and (len(chunks[-1]) >= batch or size + length > 8_000_000):
            chunks.append([])
            size = 0
        chunks[-1].append(tx)
        size += length
    chunks = [c for c in chunks if c]

    async def push(i: int, chunk: list[Tx]) -> None:
        pending = chunk
        while pending:
            try:
                answer = await clients[i % len(clients)].submit_batch(pending)
            except ClientError as exc:
                if exc.code not in ("mempool_full", "rate_limited"):
                    raise
                await asyncio.sleep(0.05)
                continue
            retry = [
                t
                for t, r in zip(pending, answer["results"], strict=True)
                if r.get("code") == "mempool_full"
            ]
            bad = [
                r
                for r in answer["results"]
                if r.get("code") not in (None, "mempool_full", "duplicate_tx")
            ]
            if bad:
                raise RuntimeError(f"node refused txs: {bad[:2]}")
            pending = retry
            if pending:
                await asyncio.sleep(0.05)

    sem = asyncio.Semaphore(len(clients) * 2)

    async def guarded(i: int, chunk: list[Tx]) -> None:
        async with sem:
            await push(i, chunk)

    await asyncio.gather(*(guarded(i, c) for i, c in enumerate(chunks)))


class Watcher:
    """Follows one node's block stream; records when each tx hash was committed."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http", "ws") + "/v1/stream"
        self.seen: dict[str, float] = {}
        self.txs = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        self._session = aiohttp.ClientSession()
        context = rpc_ssl(self.url.replace("ws", "http", 1).removesuffix("/v1/stream"))
        self._socket = await self._session.ws_connect(
            self.url, max_msg_size=64 * 1024 * 1024, ssl=context if context else True
        )
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        async for message in self._socket:
            event = json.loads(message.data)
            now = time.monotonic()
            for digest in event.get("tx_hashes", ()):
                self.seen[digest] = now
            self.txs += event.get("txs", 0)

    async def wait_for(self, hashes: list[str], timeout_s: float) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(h in self.seen for h in hashes):
                return max(self.seen[h] for h in hashes)
            await asyncio.sleep(0.01)
        missing = sum(1 for h in hashes if h not in self.seen)
        raise TimeoutError(f"{missing} of {len(hashes)} txs not committed in {timeout_s}s")

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
        await self._socket.close()
        await self._session.close()


async def throughput(clients: list[Client], watcher: Watcher, txs: list[Tx], what: str) -> float:
    hashes = [tx_hash(SUITE, t).hex() for t in txs]
    started = time.monotonic()
    await submit(clients, txs)
    submitted = time.monotonic()
    finished = await watcher.wait_for(hashes, timeout_s=600)
    rate = len(txs) / (finished - started)
    log(
        f"  {what}: {len(txs)} txs, submitted in {submitted - started:.1f}s, "
        f"all committed after {finished - started:.1f}s -> {rate:.0f} tx/s"
    )
    return rate


async def latency(
    clients: list[Client], watcher: Watcher, plan: Plan, head: int, rate: float, seconds: float
) -> tuple[float, float]:
    total = int(rate * seconds)
    txs = plan.txs(total, 1, head)
    sent: dict[str, float] = {}
    tick = 0.05
    per_tick = max(1, int(rate * tick))
    started = time.monotonic()
    for i in range(0, total, per_tick):
        chunk = txs[i : i + per_tick]
        now = time.monotonic()
        for t in chunk:
            sent[tx_hash(SUITE, t).hex()] = now
        asyncio.create_task(submit(clients, chunk, batch=per_tick))
        delay = started + (i // per_tick + 1) * tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await watcher.wait_for(list(sent), timeout_s=120)
    latencies = sorted((watcher.seen[h] - t) * 1000 for h, t in sent.items())
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    log(f"  latency at {rate:.0f} tx/s for {seconds:.0f}s: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    return p50, p99


async def run(
    validators: int,
    single_txs: int,
    record_txs: int,
    latency_s: float,
    suite: str = "ed25519-sha256",
    latency_rate: float = 0,
    latency_after_records: bool = False,
    tls: bool = False,
) -> dict:
    """One network of ``validators``; ``tls`` puts links on TLS 1.3 and the RPC on HTTPS."""
    global SUITE
    SUITE = get_suite(suite)
    with tempfile.TemporaryDirectory(prefix="skillchain-bench-") as tmp:
        log(f"starting {validators} validators ({suite}{', TLS' if tls else ''}) ...")
        cluster = make_cluster(
            Path(tmp),
            validators,
            {
                "block_interval_ms": 100,
                "max_block_txs": 2000,
                "mempool_max_txs": 100_000,
                "rpc_rate_per_s": 100_000,
            },
            suite=suite,
            tls=tls,
        )
        try:
            return await _measure(
                cluster, validators, single_txs, record_txs, latency_s, latency_rate,
                latency_after_records)
        finally:
            cluster.stop_all()


async def _measure(
    cluster: Any, validators: int, single_txs: int, record_txs: int, latency_s: float,
    latency_rate: float = 0, latency_after_records: bool = False,
) -> dict:
    from chain.genesis import load_genesis

    genesis, _ = load_genesis(cluster.root / "genesis.json")
    occupation = next(o for o in genesis.occupations if o.level == 5)
    clients = [Client(u, ssl_context=rpc_ssl(u)) for u in cluster.urls]
    for c in clients:
        await c.__aenter__()
    try:
        plan = Plan(cluster.builder("provider-ganpo"), 2_000, int(time.time()))
        head = (await clients[0].status())["height"]
        async with Watcher(cluster.urls[0]) as watcher:
            for step in plan.setup_txs(head, occupation):
                await throughput(clients, watcher, step, "setup")
            head = (await clients[0].status())["height"]
            log("signing ...")
            singles = plan.txs(single_txs, 1, head)
            batches = plan.txs(record_txs, 100, head)
            tx_rate = await throughput(clients, watcher, singles, "single-session txs")
            record_rate = p50 = p99 = 0.0

            async def measure_latency() -> tuple[float, float]:
                head = (await clients[0].status())["height"]
                rate = latency_rate or tx_rate / 2
                return await latency(clients, watcher, plan, head, rate, latency_s)

            if latency_s > 0 and not latency_after_records:
                p50, p99 = await measure_latency()
            if batches:
                record_rate = 100 * await throughput(clients, watcher, batches, "100-session txs")
            if latency_s > 0 and latency_after_records:
                p50, p99 = await measure_latency()
    finally:
        for c in clients:
            await c.__aexit__()
    verify = measure_verify_per_s()
    cores = os.cpu_count() or 1
    return {
        "validators": validators,
        "tx_per_s": round(tx_rate),
        "records_per_s": round(record_rate),
        "p50_ms": round(p50),
        "p99_ms": round(p99),
        "verify_per_s": round(verify),
        "bound_ratio": round(tx_rate / (verify * cores / validators), 3),
        "cores": cores,
        "suite": SUITE.name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", default="4,7,12",
                        help="comma-separated network sizes (12: the Jiangxi network, issue 14)")
    parser.add_argument("--txs", type=int, default=20_000, help="single-session txs per run")
    parser.add_argument("--record-txs", type=int, default=400, help="100-session txs per run")
    parser.add_argument("--latency-seconds", type=float, default=15)
    parser.add_argument("--latency-rate", type=float, default=0,
                        help="tx/s offered for latency (default: half the measured tx/s)")
    parser.add_argument("--latency-after-records", action="store_true",
                        help="measure latency after the records run (in its compaction wake)")
    parser.add_argument("--suite", default="ed25519-sha256", help="crypto suite of the network")
    args = parser.parse_args()
    results = []
    for n in (int(v) for v in args.validators.split(",")):
        result = asyncio.run(run(n, args.txs, args.record_txs, args.latency_seconds, args.suite,
                                 args.latency_rate, args.latency_after_records))
        log(json.dumps(result))
        results.append(result)
    summary = dict(results[0])
    summary["runs"] = results
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
