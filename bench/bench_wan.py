"""``make bench-wan``: 12 bureaus over an emulated WAN, on this one machine.

Each validator is a real ``skillchain node start`` process in its own network
namespace; every validator link goes through a relay in a hub namespace that
delays each chunk 20 ms ± 5 ms one way and models 0.5% packet loss as
retransmission delay (``bench.wan_relay`` states the model; ``bench.wan_net``
the layout). The load generator, plan and watcher are ``make bench``'s
(``bench.bench_cluster``), so figures compare with its loopback ones.

Scenarios, in order, on one n = 12 network (and n = 4 for the first two,
``--n4``, with at most 2 minutes at 100 tx/s):

1. **steady**: single-session tx/s offered as fast as the nodes admit
   (``tx_per_s``); then p50/p99 at a fixed 100 tx/s for ``steady_s`` (5 minutes
   in a full run), and the view changes during it (``view_changes_steady``).
2. **bad link**: the last validator's line at 200 ms ± 10 ms and 5% loss:
   tx/s ÷ steady tx/s (``bad_link_share``) and p99 at 100 tx/s.
3. **f down**: f validators (the last f) cut off (veth down: a black hole):
   tx/s over the others ÷ steady (``f_down_share``); the cut lasts at least
   ``cut_s`` (30 s), then heals: seconds until every node is at the tip
   (``heal_after_load_s``: the cut nodes missed a saturated run's blocks and
   must re-execute them). Then **a partition that heals**: the same f cut
   off for ``cut_s`` while the others commit 20 tx/s, healed: seconds from
   the heal until every node's height is the tip (``heal_s``).
4. **idle**: no txs for ``idle_s``; growth of each node's data dir + WAL,
   the largest, per day (``idle_bytes_per_day``); blocks made meanwhile.
5. **TLS**: a second n = 12 WAN network with TLS 1.3 links and HTTPS RPC,
   then a third one plaintext again: saturated TLS tx/s ÷ the mean of step 1's
   and the third's (``tls_share``), so drift in the machine's other load
   favours neither.
6. **saturated loopback**: n = 12 without namespaces (``make bench``'s
   setting): tx/s R, then 2R offered for ``overload_s``; view changes then
   (``view_changes_saturated``).

View changes are the largest count over the nodes (every replica of a view
change counts it once). ``BENCH_WAN_QUICK=1`` (or ``--quick``) shortens every
phase for a smoke run (~5 minutes); the full run takes ~25 minutes. Needs root
(network namespaces); prints an error and exits 2 otherwise. Ends by printing
one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import bench_cluster as bc
from bench.wan_net import (
    Lab,
    NsCluster,
    RelayProcess,
    make_lab_network,
    remove_stale,
    stop_cluster,
)
from chain.genesis import load_genesis
from cli.devnet import node_status, rpc_ssl, wait_ready
from consensus.proposals import primary_index
from node.client import Client
from tests.node.cluster import make_cluster

__all__ = ["main"]

OVERRIDES = {  # make bench's node settings (bench_cluster.run)
    "block_interval_ms": 100,
    "max_block_txs": 2000,
    "mempool_max_txs": 100_000,
    "rpc_rate_per_s": 100_000,
}
STEADY = {"delay_ms": 20.0, "jitter_ms": 5.0, "loss": 0.005}
BAD = {"delay_ms": 200.0, "jitter_ms": 10.0, "loss": 0.05}
MACHINE_NOTE = (
    "one machine, 2 cores shared by all validators (12 node processes), the relay "
    "process and the load generator; WAN delay/jitter/loss emulated in user space "
    "(no sch_netem in this kernel): see bench/wan_relay.py"
)


@dataclass(frozen=True)
class Durations:
    sat_txs: int = 15_000
    steady_s: float = 300
    bad_txs: int = 10_000
    bad_latency_s: float = 60
    cut_s: float = 30
    idle_s: float = 120
    settle_s: float = 15
    overload_s: float = 60
    tls_txs: int = 15_000
    rate: float = 100


QUICK = Durations(sat_txs=3_000, steady_s=20, bad_txs=2_000, bad_latency_s=15, cut_s=12,
                  idle_s=20, settle_s=5, overload_s=15, tls_txs=3_000)


def log(message: str) -> None:
    bc.log(message)


# -- reads ------------------------------------------------------------------------


async def statuses(urls: list[str]) -> list[dict | None]:
    return await asyncio.gather(*(asyncio.to_thread(node_status, u, 3.0) for u in urls))


async def view_changes(urls: list[str]) -> list[int]:
    return [(s or {}).get("view_changes", 0) for s in await statuses(urls)]


def vc_delta(before: list[int], after: list[int]) -> int:
    return max((a - b for a, b in zip(after, before, strict=True)), default=0)


async def heights(urls: list[str]) -> list[int]:
    return [(s or {}).get("height", -1) for s in await statuses(urls)]


class CpuMeter:
    """The machine's busy CPU and the lab's share of it between construction and ``read``
    (Linux ``/proc``): a shared machine's other work shows as ``lab_share`` < 1."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.started = (time.monotonic(), self._machine(), self._lab())

    @staticmethod
    def _machine() -> int:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields[0:3]) + sum(fields[5:7])  # user nice system, irq softirq

    def _lab(self) -> int:
        total = 0
        for pid in self.pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(stat[11]) + int(stat[12])  # utime, stime
        return total

    def read(self) -> dict[str, float]:
        t0, m0, l0 = self.started
        elapsed, machine, lab = time.monotonic() - t0, self._machine() - m0, self._lab() - l0
        hz = os.sysconf("SC_CLK_TCK")
        cores = os.cpu_count() or 1
        return {
            "machine_busy": round(machine / hz / elapsed / cores, 3),
            "lab_share": round(lab / machine, 3) if machine else 0.0,
        }


# -- one network ------------------------------------------------------------------


class Bench:
    """Clients, watcher and plan over one running network."""

    def __init__(self, cluster: Any, relay: RelayProcess | None = None) -> None:
        self.cluster = cluster
        self.relay = relay
        self.relay_pid = relay.proc.pid if relay else None
        self.link_bytes_per_tx: dict[str, int] = {}
        self.cpu: dict[str, dict[str, float]] = {}
        self.view_change_log: list[dict[int, int]] = []
        self.urls = list(cluster.urls)
        self.clients = [Client(u, ssl_context=rpc_ssl(u)) for u in self.urls]
        self.plan = bc.Plan(cluster.builder("provider-ganpo"), 2_000, int(time.time()))
        self.watcher = bc.Watcher(self.urls[0])

    async def __aenter__(self) -> Bench:
        for c in self.clients:
            await c.__aenter__()
        await self.watcher.__aenter__()
        genesis, _ = load_genesis(self.cluster.root / "genesis.json")
        occupation = next(o for o in genesis.occupations if o.level == 5)
        head = await self.head()
        for step in self.plan.setup_txs(head, occupation):
            await bc.throughput(self.clients, self.watcher, step, "setup")
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.watcher.__aexit__()
        for c in self.clients:
            with contextlib.suppress(Exception):
                await c.__aexit__()

    async def head(self) -> int:
        return (await self.clients[0].status())["height"]

    async def saturate(self, count: int, what: str, nodes: list[int] | None = None) -> float:
        txs = self.plan.txs(count, 1, await self.head())
        clients = self.clients if nodes is None else [self.clients[i] for i in nodes]
        pids = [p.pid for p in self.cluster.procs if p is not None] + [os.getpid()]
        if self.relay_pid:
            pids.append(self.relay_pid)
        meter = CpuMeter(pids)
        sent = self.relay.command(op="stats")["bytes_forwarded"] if self.relay else 0
        rate = await bc.throughput(clients, self.watcher, txs, what)
        self.cpu[what] = meter.read()
        log(f"  CPU meanwhile: {self.cpu[what]}")
        if self.relay:
            relayed = self.relay.command(op="stats")["bytes_forwarded"] - sent
            self.link_bytes_per_tx[what] = round(relayed / count)
            log(f"  link bytes per tx (all links): {self.link_bytes_per_tx[what]}")
        return rate

    async def _head_poller(self, box: list[int]) -> None:
        while True:
            with contextlib.suppress(Exception):
                box[0] = await self.head()
            await asyncio.sleep(1.0)

    async def paced(
        self, rate: float, seconds: float, wait_s: float | None, nodes: list[int] | None = None
    ) -> tuple[dict[str, float], int]:
        """Offer ``rate`` tx/s for ``seconds``, round-robin over the nodes, each tx
        signed just before it is sent against a head at most ~1 s old (a 5-minute run
        outlives the txs' expiry window if they are all signed up front, as
        ``bench_cluster.latency`` does for its 15 s); then wait up to ``wait_s`` for
        the commits (None: do not wait). Returns send times by hash and how many
        submissions failed."""
        box = [await self.head()]
        poller = asyncio.create_task(self._head_poller(box))
        sent: dict[str, float] = {}
        tasks: list[asyncio.Task[None]] = []
        tick = 0.05
        per_tick = max(1, round(rate * tick))
        started = time.monotonic()
        try:
            for k in range(int(seconds / tick)):
                chunk = self.plan.txs(per_tick, 1, box[0])
                now = time.monotonic()
                for t in chunk:
                    sent[bc.tx_hash(bc.SUITE, t).hex()] = now
                targets = nodes if nodes is not None else range(len(self.clients))
                client = self.clients[list(targets)[k % len(targets)]]
                tasks.append(asyncio.create_task(bc.submit([client], chunk, per_tick)))
                delay = started + (k + 1) * tick - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if wait_s is not None:
                with contextlib.suppress(TimeoutError):
                    await self.watcher.wait_for(list(sent), timeout_s=wait_s)
        finally:
            poller.cancel()
            for task in tasks:
                task.cancel()
        failed = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception())
        return sent, failed

    async def _primaries(self) -> list[int]:
        """Node index of each validator in the set's order (the primary rotation's)."""
        keys = [(s or {}).get("validator") for s in await statuses(self.urls)]
        order = (await self.clients[0].validators())["validators"]
        return [keys.index(v["public_key"]) for v in order]

    async def _watch_views(self, found: dict[int, int]) -> None:
        """Sample every node's status each second; when a node's view-change count
        grew, note the height it was at (``found``: height -> view changes seen)."""
        last = await view_changes(self.urls)
        while True:
            await asyncio.sleep(1.0)
            rows = await statuses(self.urls)
            for i, row in enumerate(rows):
                if row is None:
                    continue
                if row.get("view_changes", 0) > last[i]:
                    height = row.get("consensus_height", 0)
                    found[height] = max(found.get(height, 0), row["view_changes"] - last[i])
                last[i] = row.get("view_changes", last[i])

    async def latency(self, rate: float, seconds: float) -> tuple[float, float, int]:
        """p50, p99 at ``rate`` for ``seconds``, and the view changes meanwhile. A tx
        not committed within 120 s of the end counts as 120 s late."""
        before = await view_changes(self.urls)
        found: dict[int, int] = {}
        relayed = self.relay.command(op="stats")["bytes_forwarded"] if self.relay else 0
        watch = asyncio.create_task(self._watch_views(found))
        try:
            sent, failed = await self.paced(rate, seconds, wait_s=120)
        finally:
            watch.cancel()
        if self.relay:
            relayed = self.relay.command(op="stats")["bytes_forwarded"] - relayed
            self.link_bytes_per_tx[f"{rate:.0f} tx/s"] = round(relayed / max(1, len(sent)))
        changes = vc_delta(before, await view_changes(self.urls))
        if found:
            with contextlib.suppress(Exception):
                order = await self._primaries()
                n = len(order)
                primaries = {h: order[primary_index(h, 0, n)] for h in sorted(found)}
                self.view_change_log.append(primaries)
                log(f"  heights with a view change -> their view-0 primary: {primaries}")
        seen = self.watcher.seen
        missing = sum(1 for h in sent if h not in seen)
        latencies = sorted((seen[h] - t) * 1000 if h in seen else 120_000.0
                           for h, t in sent.items())
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        log(f"  latency at {rate:.0f} tx/s for {seconds:.0f}s: p50 {p50:.0f} ms, p99 {p99:.0f} "
            f"ms; {changes} view changes; {missing} not committed, {failed} submits failed")
        return p50, p99, changes

    async def overload(self, rate: float, seconds: float) -> tuple[int, float]:
        """Offer ``rate`` tx/s for ``seconds`` without waiting for commits; the view
        changes meanwhile (and 5 s after) and the committed tx/s."""
        before, seen = await view_changes(self.urls), self.watcher.txs
        started = time.monotonic()
        await self.paced(rate, seconds, wait_s=None)
        await asyncio.sleep(5)
        elapsed = time.monotonic() - started
        committed = (self.watcher.txs - seen) / elapsed
        changes = vc_delta(before, await view_changes(self.urls))
        log(f"  offered {rate:.0f} tx/s for {seconds:.0f}s: committed {committed:.0f} tx/s, "
            f"{changes} view changes")
        return changes, committed


def dir_bytes(home: Path) -> int:
    total = 0
    for path in [*(home / "data").rglob("*"), home / "consensus.wal"]:
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total


def io_write_bytes(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


async def heal_time(
    lab: Lab, relay: RelayProcess, cut: list[int], urls: list[str], timeout_s: float = 120
) -> float:
    up = [u for i, u in enumerate(urls) if i not in cut]
    tip = max(await heights(up))
    for i in cut:
        lab.heal(i)
        relay.command(op="heal", node=i)
    healed = time.monotonic()
    while time.monotonic() - healed < timeout_s:
        if min(await heights(urls)) >= tip:
            return time.monotonic() - healed
        await asyncio.sleep(0.1)
    log(f"  not at the tip {tip} after {timeout_s:.0f}s: {await heights(urls)}")
    return timeout_s


async def idle(cluster: NsCluster, urls: list[str], d: Durations) -> dict:
    await asyncio.sleep(d.settle_s)  # let LevelDB finish compacting the load's writes
    h0, size0 = await heights(urls), [dir_bytes(h) for h in cluster.homes]
    io0 = [io_write_bytes(p.pid) if p else 0 for p in cluster.procs]
    await asyncio.sleep(d.idle_s)
    h1, size1 = await heights(urls), [dir_bytes(h) for h in cluster.homes]
    io1 = [io_write_bytes(p.pid) if p else 0 for p in cluster.procs]
    grown = max(b - a for a, b in zip(size0, size1, strict=True))
    written = max(b - a for a, b in zip(io0, io1, strict=True))
    per_day = 86_400 / d.idle_s
    result = {
        "idle_bytes_per_day": round(max(0, grown) * per_day),
        "idle_io_bytes_per_day": round(written * per_day),
        "idle_blocks": max(b - a for a, b in zip(h0, h1, strict=True)),
        "idle_s": d.idle_s,
    }
    log(f"  idle {d.idle_s:.0f}s: {result}")
    return result


async def wan_network(
    lab: Lab, workdir: Path, d: Durations, tls: bool, full: bool, saturated_only: bool = False
) -> dict:
    """Start the lab's nodes and relays, run the scenarios; always stops them."""
    cluster, links = make_lab_network(lab, workdir, OVERRIDES, tls=tls)
    relay = RelayProcess(lab, links, STEADY, workdir)
    try:
        for i in range(lab.n):
            cluster.start(i)
        await asyncio.to_thread(wait_ready, cluster.urls, 180)
        async with Bench(cluster, relay) as bench:
            return await _scenarios(lab, cluster, relay, bench, d, tls,
                                    tls or saturated_only, full)
    finally:
        killed = stop_cluster(cluster)
        if killed:
            log(f"  nodes {killed} did not stop within 15 s of SIGTERM: killed")
        relay.stop()


async def _scenarios(
    lab: Lab, cluster: NsCluster, relay: RelayProcess, bench: Bench, d: Durations,
    tls: bool, saturated_only: bool, full: bool,
) -> dict:
    n, f = lab.n, (lab.n - 1) // 3
    out: dict[str, Any] = {"validators": n}
    log(f"n={n}{' TLS' if tls else ''}: steady WAN {STEADY}")
    out["tx_per_s"] = round(await bench.saturate(d.sat_txs if not tls else d.tls_txs,
                                                 "saturated"))
    out["cpu_saturated"] = bench.cpu["saturated"]
    if saturated_only:
        return out
    p50, p99, changes = await bench.latency(d.rate, d.steady_s)
    out.update(p50_ms=round(p50), p99_ms=round(p99), view_changes_steady=changes)
    bad = n - 1
    relay.command(op="profile", node=bad, **BAD)
    log(f"n={n}: validator {bad} on a bad line {BAD}")
    before = await view_changes(bench.urls)
    bad_rate = await bench.saturate(d.bad_txs, "saturated, one bad link")
    _, bad_p99, _ = await bench.latency(d.rate, d.bad_latency_s)
    out.update(
        bad_link_tx_per_s=round(bad_rate),
        bad_link_share=round(bad_rate / out["tx_per_s"], 3),
        bad_link_p99_ms=round(bad_p99),
        bad_link_view_changes=vc_delta(before, await view_changes(bench.urls)),
    )
    relay.command(op="reset")
    if not full:
        return out
    cut = list(range(n - f, n))
    log(f"n={n}: validators {cut} cut off")
    up = [i for i in range(n) if i not in cut]
    before_cut = await heights([bench.urls[i] for i in cut])
    for i in cut:
        lab.cut(i)
        relay.command(op="cut", node=i)
    cut_at = time.monotonic()
    await asyncio.sleep(min(5, d.cut_s / 3))  # the others notice the silence
    before = await view_changes([bench.urls[i] for i in up])
    down_rate = await bench.saturate(d.sat_txs, f"saturated, {f} cut off", nodes=up)
    out.update(
        f_down_tx_per_s=round(down_rate),
        f_down_share=round(down_rate / out["tx_per_s"], 3),
        f_down_view_changes=vc_delta(before, await view_changes([bench.urls[i] for i in up])),
        cpu=bench.cpu,
        link_bytes_per_tx=bench.link_bytes_per_tx,
        view_change_primaries=[{str(h): p for h, p in m.items()} for m in bench.view_change_log],
    )
    await asyncio.sleep(max(0.0, d.cut_s - (time.monotonic() - cut_at)))
    out["f_down_cut_s"] = round(time.monotonic() - cut_at, 1)
    behind = max(await heights([bench.urls[i] for i in up])) - min(before_cut)
    out["heal_after_load_s"] = round(await heal_time(lab, relay, cut, bench.urls), 2)
    out["heal_after_load_blocks_behind"] = behind
    log(f"  healed after a {out['f_down_cut_s']}s cut, {behind} blocks behind: every node at "
        f"the tip {out['heal_after_load_s']}s later")
    await asyncio.sleep(d.settle_s)
    out.update(await partition_heals(lab, relay, bench, cut, up, d))
    out.update(await idle(cluster, bench.urls, d))
    out["relay"] = relay.command(op="stats")
    return out


async def partition_heals(
    lab: Lab, relay: RelayProcess, bench: Bench, cut: list[int], up: list[int], d: Durations
) -> dict:
    """``cut`` cut off for ``cut_s`` while the others commit a light load (20 tx/s, so the
    cut nodes miss tens of blocks, not a saturated run's hundreds); then healed."""
    before_cut = await heights([bench.urls[i] for i in cut])
    log(f"  partition: {cut} cut off for {d.cut_s:.0f}s under 20 tx/s, then healed")
    for i in cut:
        lab.cut(i)
        relay.command(op="cut", node=i)
    await bench.paced(20, d.cut_s, wait_s=None, nodes=up)
    await asyncio.sleep(2)
    behind = max(await heights([bench.urls[i] for i in up])) - min(before_cut)
    heal = await heal_time(lab, relay, cut, bench.urls)
    log(f"  healed, {behind} blocks behind: every node at the tip {heal:.2f}s later")
    return {"heal_s": round(heal, 2), "heal_blocks_behind": behind, "cut_s": d.cut_s}


async def loopback_saturated(workdir: Path, n: int, d: Durations) -> dict:
    log(f"n={n} on loopback: saturated, then twice that offered")
    cluster = make_cluster(workdir / "loop", n, OVERRIDES)
    try:
        async with Bench(cluster) as bench:
            rate = await bench.saturate(d.sat_txs, "saturated (loopback)")
            changes, committed = await bench.overload(2 * rate, d.overload_s)
    finally:
        killed = stop_cluster(cluster)
        if killed:
            log(f"  nodes {killed} did not stop within 15 s of SIGTERM: killed")
    return {"loopback_tx_per_s": round(rate), "view_changes_saturated": changes,
            "overload_committed_tx_per_s": round(committed)}


async def run(args: argparse.Namespace, d: Durations, workdir: Path, labs: list[Lab]) -> dict:
    result: dict[str, Any] = {"load_avg_start": round(os.getloadavg()[0], 2)}

    async def in_lab(
        n: int, name: str, tls: bool, full: bool, tls_only: bool = False,
        steady_s: float | None = None,
    ) -> dict:
        lab = Lab(n)
        labs.append(lab)
        lab.up()
        try:
            durations = d if steady_s is None else Durations(**{**asdict(d), "steady_s": steady_s})
            return await wan_network(lab, workdir / name, durations, tls, full, tls_only)
        finally:
            lab.down()

    result.update(await in_lab(args.validators, "wan", False, True))
    if not args.no_tls:
        # plain (step 1), TLS, plain again: the mean of the plain runs around the TLS
        # one, so that drift in the machine's other load favours neither
        tls = await in_lab(args.validators, "wan-tls", True, False)
        again = await in_lab(args.validators, "wan-plain", False, False, tls_only=True)
        plain = (result["tx_per_s"] + again["tx_per_s"]) / 2
        result["tls_tx_per_s"] = tls["tx_per_s"]
        result["tls_plain_tx_per_s"] = [result["tx_per_s"], again["tx_per_s"]]
        result["tls_share"] = round(tls["tx_per_s"] / plain, 3)
    if not args.no_loopback:
        result.update(await loopback_saturated(workdir, args.validators, d))
    if args.n4:
        result["n4"] = await in_lab(4, "wan4", False, False, steady_s=min(d.steady_s, 120))
    result.update(
        one_way_delay_ms=STEADY["delay_ms"],
        jitter_ms=STEADY["jitter_ms"],
        loss=STEADY["loss"],
        bad_link=BAD,
        rate_for_latency=d.rate,
        durations=asdict(d),
        quick=args.quick,
        cores=os.cpu_count() or 1,
        machine=MACHINE_NOTE,
        load_avg_end=round(os.getloadavg()[0], 2),
    )
    return result


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C raises where the loop is, like SIGTERM: asyncio's own SIGINT handler
    only cancels the main task, and a cancellation swallowed anywhere below (a
    library's retry loop) left the bench, its nodes and namespaces running."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=12)
    parser.add_argument("--quick", action="store_true",
                        help="short phases for a smoke run (also BENCH_WAN_QUICK=1)")
    parser.add_argument("--n4", action=argparse.BooleanOptionalAction, default=None,
                        help="also steady and bad link for n = 4 (default: in full runs)")
    parser.add_argument("--steady-seconds", type=float, help="override the 100 tx/s period")
    parser.add_argument("--no-tls", action="store_true", help="skip the TLS network")
    parser.add_argument("--no-loopback", action="store_true", help="skip the loopback overload")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="put the networks (homes, node.log, relay.log) in DIR, an empty "
                             "or new directory, and keep them for diagnosis")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("error[needs_root]: make bench-wan puts each validator in its own network "
              "namespace (ip netns), which needs root; run it as root", file=sys.stderr)
        sys.exit(2)
    quick = args.quick = args.quick or os.environ.get("BENCH_WAN_QUICK") == "1"
    d = QUICK if quick else Durations()
    if args.steady_seconds:
        d = Durations(**{**asdict(d), "steady_s": args.steady_seconds})
    if args.n4 is None:
        args.n4 = not quick
    stale = remove_stale()
    if stale:
        log(f"removed namespaces left by an earlier run: {', '.join(stale)}")
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)
    signal.signal(signal.SIGINT, _interrupt)
    labs: list[Lab] = []
    started = time.monotonic()
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            result = asyncio.run(run(args, d, args.keep.resolve(), labs))
        else:
            with tempfile.TemporaryDirectory(prefix="skillchain-wan-") as tmp:
                result = asyncio.run(run(args, d, Path(tmp), labs))
    finally:
        for lab in labs:
            lab.down()
    result["wall_s"] = round(time.monotonic() - started)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
