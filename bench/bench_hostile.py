"""``make bench-hostile``: what an attacker within the rules costs a real network (issue 13).

Two 4-validator networks on loopback, each validator its own OS process:

**Network A** (four honest nodes; node 0 runs with ``RLIMIT_NOFILE`` 1024,
soft *and* hard, so it cannot raise it and must hold its own caps):

1. *Idle connections* (finding 1): a child process (``--idle-flood-child``)
   keeps ``RPC_IDLE`` (1,100) idle TCP connections open to node 0's RPC port
   from 16 loopback source addresses (a per-address cap alone must not be
   what saves it) and ``LINK_SILENT`` (300) connections to its link port that
   send two bytes of a frame header and then nothing, for ``IDLE_S`` (30 s),
   reconnecting whatever the node closes. Meanwhile an honest client asks
   ``/v1/status`` on a fresh connection every 0.1 s (a failure counts as its
   5 s timeout). ``idle_attack_alive``: node 0 still runs, answers and has
   committed during the flood. ``idle_attack_status_p99_ms`` (target <= 1,000).
2. *Salvo* (finding 5): ``SALVO`` (12,000) bad requests from 32 connections to
   node 1 — Unicode digits in heights (``/v1/blocks/²``), ids with ``/`` that
   would read another record (``/v1/query/class?class=x/trainees``, progress,
   credential, provider and city stats), malformed bodies of every kind.
   ``salvo_5xx`` (target 0) and ``salvo_tracebacks`` (new ``Traceback`` lines
   in all node logs).
3. *Huge bodies* (finding 6): an honest client submits with ``?wait=commit``
   at 5 tx/s to node 2, first alone (``huge_body_baseline_p50_ms``), then
   while another client (127.0.0.2) sends 30 JSON batch bodies of 32 MiB in
   30 s to the same node. ``huge_body_p50_ms`` (target <= 300).

**Network B** (``tests.hostile.byzpeer.ByzNet``: three honest nodes and a
scripted Byzantine peer holding the fourth validator's real key):

4. ``tampered_catchup_alive``: node 1 is wiped (WAL kept) and restarted while
   the peer answers catch-up with certified blocks whose txs carry a flipped
   signature; it must stay up and reach the others' height.
5. ``amplification_rss_growth_mib`` (target <= 256) and
   ``amplification_commit_share`` (target >= 0.8): CatchUpRequests from
   heights 1 and 2, alternating, from a peer that never reads, for
   ``AMPLIFY_S`` (20 s) under a 20 tx/s signed load, against a window of the
   same length with the peer passive. The full run also measures
   ``amplification_paced_commit_share``: the same attack at 200 requests/s
   per node (the issue saw ~200/s), which separates the cost of the answers
   (what finding 3 is about) from the cost of reading a frame flood.
6. ``evidence_entries_after_flood`` (target <= the documented cap): conflicting
   votes for every accepted view for ``FLOOD_S`` (30 s); the largest
   ``/v1/evidence`` count over the honest nodes, and the count after a
   restart of node 0 (``evidence_entries_after_restart``).

Each phase is independent: one that raises is reported as ``<phase>_error``
and the run goes on. Progress goes to stderr; the last stdout line is the
JSON. ``--quick`` shortens every phase (for iterating on the harness, not
for figures). The machine is usually shared: ``cores`` and the load average
at start and end are in the JSON so a reader can judge the noise.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from cli.devnet import wait_ready
from node.config import load_config
from tests.hostile.byzpeer import (
    ByzNet,
    evidence_cap,
    evidence_entries,
    peer_faults,
    steady_load,
)

RPC_IDLE = 1_100
LINK_SILENT = 300
IDLE_SOURCES = 16
NOFILE = 1_024
PROBE_TIMEOUT_S = 5.0
SALVO = 12_000
SALVO_WORKERS = 32
HUGE_BODY_BYTES = 32 * 1024 * 1024
HUGE_BODIES = 30
HONEST_RATE_PER_S = 5.0
AMPLIFY_RATE_PER_S = 20.0

FULL = {"idle_s": 30.0, "salvo": SALVO, "huge_s": 30.0, "huge_bodies": HUGE_BODIES,
        "baseline_s": 15.0, "amplify_s": 20.0, "flood_s": 30.0, "prefill": 40,
        "paced_rate": 200.0}
QUICK = {"idle_s": 10.0, "salvo": 2_000, "huge_s": 8.0, "huge_bodies": 8,
         "baseline_s": 6.0, "amplify_s": 8.0, "flood_s": 8.0, "prefill": 20,
         "paced_rate": None}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def raise_own_fd_limit() -> None:
    """The attacker needs ~1,500 sockets; take the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- network A: honest nodes, one under a low fd limit --------------------------------------


LAB_CONSENSUS = {"empty_block_interval_s": 1}
"""A block a second even when idle, as every figure before issue 14 was taken: the
setup waits for heights, and the figures stay comparable with earlier runs."""


def start_limited(net: ByzNet, i: int, nofile: int) -> None:
    """Start node ``i`` with ``RLIMIT_NOFILE`` = ``nofile`` (soft and hard)."""
    home = net.cluster.homes[i]
    out = open(home / "node.log", "ab")  # noqa: SIM115 - handed to the child

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    net.cluster.procs[i] = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "node", "start", "--home", str(home)],
        stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit, start_new_session=True,
    )
    out.close()


def probe_status(host: str, port: int) -> float:
    """Milliseconds for ``/v1/status`` on a fresh connection; the timeout on failure."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT_S)
    try:
        connection.request("GET", "/v1/status")
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            return PROBE_TIMEOUT_S * 1000
    except (OSError, http.client.HTTPException):
        return PROBE_TIMEOUT_S * 1000
    finally:
        connection.close()
    return (time.monotonic() - started) * 1000


def idle_attack(net: ByzNet, seconds: float) -> dict[str, Any]:
    """Finding 1: node 0 (fd limit 1024) under idle RPC and silent link connections."""
    config = load_config(net.cluster.homes[0])
    lines_before = len(net.cluster.log(0).splitlines())
    height_before = (net.status(0) or {}).get("height", 0)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_hostile", "--idle-flood-child",
         "--target", f"{config.rpc_host}:{config.rpc_port}:{RPC_IDLE}",
         "--target", f"{config.p2p_host}:{config.p2p_port}:{LINK_SILENT}",
         "--seconds", str(seconds)],
        stdout=subprocess.PIPE,
    )
    samples: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        samples.append(probe_status(config.rpc_host, config.rpc_port))
        time.sleep(0.1)
    out, _ = child.communicate(timeout=60)
    flood = json.loads(out.decode().strip().splitlines()[-1])
    time.sleep(2)
    status = net.status(0)
    advanced = (status or {}).get("height", 0) - height_before
    alive = net.alive(0) and status is not None and advanced >= 2
    failures = sum(s >= PROBE_TIMEOUT_S * 1000 for s in samples)
    log(f"idle attack: alive {alive} (exit {net.exit_code(0)}), {advanced} blocks, "
        f"status p50 {percentile(samples, 0.5)} / p99 {percentile(samples, 0.99)} ms, "
        f"{failures} of {len(samples)} probes failed; flood {flood}")
    return {
        "idle_attack_alive": alive,
        "idle_attack_status_p99_ms": percentile(samples, 0.99),
        "idle_attack_status_p50_ms": percentile(samples, 0.5),
        "idle_attack_status_samples": len(samples),
        "idle_attack_status_failures": failures,
        "idle_attack_heights_advanced": advanced,
        "idle_attack_exit_code": net.exit_code(0),
        "idle_attack_log_lines": len(net.cluster.log(0).splitlines()) - lines_before,
        "idle_attack_nofile": NOFILE,
        "idle_attack_flood": flood,
    }


async def _hold_connections(targets: list[tuple[str, int, int]], seconds: float) -> dict:
    """Keep ``count`` connections to each (host, port) open; reopen what gets closed."""
    stats: Counter[str] = Counter()
    open_now: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def slot(name: str, host: str, port: int, source: str, silent_bytes: bytes) -> None:
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            except OSError:
                stats[f"{name}_connect_errors"] += 1
                await asyncio.sleep(0.5)
                continue
            stats[f"{name}_opened"] += 1
            open_now[name] += 1
            stats[f"{name}_open_max"] = max(stats[f"{name}_open_max"], open_now[name])
            try:
                if silent_bytes:
                    writer.write(silent_bytes)
                remaining = deadline - time.monotonic()
                if await asyncio.wait_for(reader.read(1), max(0.01, remaining)) == b"":
                    stats[f"{name}_closed_by_node"] += 1
            except (TimeoutError, OSError):
                pass
            finally:
                open_now[name] -= 1
                writer.close()
            await asyncio.sleep(0.5)

    jobs = []
    for k, (host, port, count) in enumerate(targets):
        name = "rpc" if k == 0 else "link"
        partial = b"" if name == "rpc" else b"\x00\x00"  # half a frame header, then nothing
        for n in range(count):
            source = f"127.0.{1 + n % IDLE_SOURCES}.{1 + k}"
            jobs.append(slot(name, host, port, source, partial))
    await asyncio.gather(*jobs)
    return dict(stats)


def idle_flood_child(targets: list[str], seconds: float) -> None:
    raise_own_fd_limit()
    parsed = []
    for text in targets:
        host, port, count = text.rsplit(":", 2)
        parsed.append((host, int(port), int(count)))
    print(json.dumps(asyncio.run(_hold_connections(parsed, seconds))), flush=True)


def _salvo_requests(rng: random.Random, total: int) -> list[tuple[str, str, str, bytes]]:
    """(method, path, content type, body) of ``total`` requests a node must refuse."""
    digits = ["²", "³", "١٢", "٣", "۴", "߅", "①", "𝟙", "1²", "²0", "０", "12³"]
    hex32 = "ab" * 32
    slashed = ["x/trainees", "a/b", "class/x", "/", "x/", "36/01", "../x", "x/y/z"]
    bodies = [
        ("application/json", b"{"),
        ("application/json", b'{"tx": "zz"}'),
        ("application/json", b'{"txs": ["zz", 1, null, {"a": 1}]}'),
        ("application/json", b"[" * 5000),
        ("application/json", b'{"tx": "' + b"00" * 300 + b'"}'),
        ("application/json", "{\"tx\": \"\u00b2\"}".encode()),
        ("application/msgpack", b"\xc1"),
        ("application/msgpack", b"\x92\xc4\x01"),
        ("application/msgpack", b"\xdd\xff\xff\xff\xff"),
        ("application/msgpack", b"\xdc\xff\xff" + b"\xc4\x00" * 10),
        ("text/plain", b"\xff\xfe\x00"),
        ("", os.urandom(64)),
    ]
    out = []
    for _ in range(total):
        kind = rng.randrange(4)
        if kind == 0:
            d = rng.choice(digits)
            path = rng.choice([f"/v1/blocks/{d}", f"/v1/blocks?from={d}&to={d}",
                               f"/v1/blocks?from=1&to={d}", f"/v1/txs/{d}"])
            out.append(("GET", path, "", b""))
        elif kind == 1:
            s = rng.choice(slashed)
            path = rng.choice([
                f"/v1/query/class?class={s}",
                f"/v1/query/progress?class={s}&trainee={hex32}",
                f"/v1/credential?trainee={hex32}&class={s}",
                f"/v1/query/provider_stats?provider={s}",
                f"/v1/query/city_stats?city={s}",
            ])
            out.append(("GET", path, "", b""))
        else:
            content_type, body = rng.choice(bodies)
            path = rng.choice(["/v1/txs", "/v1/txs?wait=commit", "/v1/txs/batch"])
            out.append(("POST", path, content_type, body))
    return out


async def _salvo(url: str, requests: list[tuple[str, str, str, bytes]]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    queue = list(reversed(requests))

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            method, path, content_type, body = queue.pop()
            headers = {"Content-Type": content_type} if content_type else {}
            try:
                async with session.request(
                    method, url + path, data=body or None, headers=headers
                ) as answer:
                    await answer.read()
                    statuses[answer.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                statuses[0] += 1

    timeout = aiohttp.ClientTimeout(total=40)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(SALVO_WORKERS)))
    return statuses


def salvo(net: ByzNet, total: int) -> dict[str, Any]:
    """Finding 5: bad requests answered 4xx, never 5xx, never a traceback."""
    tracebacks_before = net.tracebacks()
    started = time.monotonic()
    statuses = asyncio.run(_salvo(net.urls[1], _salvo_requests(random.Random(13), total)))
    took = time.monotonic() - started
    fivexx = sum(n for s, n in statuses.items() if s >= 500)
    tracebacks = net.tracebacks() - tracebacks_before
    log(f"salvo: {total} requests in {took:.1f} s: {fivexx} 5xx, {tracebacks} tracebacks, "
        f"statuses {dict(sorted(statuses.items()))}")
    return {"salvo_requests": sum(statuses.values()), "salvo_5xx": fivexx,
            "salvo_failed_connections": statuses.get(0, 0), "salvo_tracebacks": tracebacks,
            "salvo_statuses": {str(k): v for k, v in sorted(statuses.items())}}


def _huge_json_body() -> bytes:
    chunk = b'"' + os.urandom(1024).hex().encode() + b'"'
    count = HUGE_BODY_BYTES // (len(chunk) + 1)
    return b'{"txs": [' + b",".join([chunk] * count) + b"]}"


async def _huge_bodies(url: str, count: int, seconds: float) -> Counter[int]:
    """``count`` 32 MiB JSON batches from 127.0.0.2, one started every ``seconds/count``."""
    body = _huge_json_body()
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), limit=0)

    async def one(session: aiohttp.ClientSession) -> None:
        try:
            async with session.post(
                url + "/v1/txs/batch", data=body, headers={"Content-Type": "application/json"}
            ) as answer:
                await answer.read()
                statuses[answer.status] += 1
        except (aiohttp.ClientError, TimeoutError):
            statuses[0] += 1

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        for _ in range(count):
            tasks.append(asyncio.create_task(one(session)))
            await asyncio.sleep(seconds / count)
        await asyncio.gather(*tasks)
    return statuses


def huge_bodies(net: ByzNet, baseline_s: float, seconds: float, count: int) -> dict[str, Any]:
    """Finding 6: honest latency while another client sends 32 MiB bodies."""
    url = net.urls[2]

    def honest(duration: float) -> Any:
        return steady_load([url], net.builder(), net.head(), HONEST_RATE_PER_S, duration,
                           grace_s=30.0, tag="honest")

    baseline = asyncio.run(honest(baseline_s))

    async def attacked() -> tuple[Any, Counter[int]]:
        return await asyncio.gather(honest(seconds), _huge_bodies(url, count, seconds))

    during, statuses = asyncio.run(attacked())
    p50 = percentile(during.latencies_ms, 0.5)
    log(f"huge bodies: honest p50 {percentile(baseline.latencies_ms, 0.5)} ms alone, "
        f"{p50} ms during ({during.acked} acked, {during.errors} errors "
        f"{dict(during.error_kinds)}); "
        f"bodies answered {dict(statuses)}")
    return {"huge_body_p50_ms": p50, "huge_body_p99_ms": percentile(during.latencies_ms, 0.99),
            "huge_body_baseline_p50_ms": percentile(baseline.latencies_ms, 0.5),
            "huge_body_honest_acked": during.acked, "huge_body_honest_errors": during.errors,
            "huge_body_honest_error_kinds": dict(during.error_kinds),
            "huge_body_sent": sum(statuses.values()),
            "huge_body_statuses": {str(k): v for k, v in sorted(statuses.items())}}


def network_a(tmp: Path, knobs: dict[str, Any], result: dict[str, Any]) -> None:
    net = ByzNet(tmp / "a", 4, consensus=LAB_CONSENSUS)
    try:
        start_limited(net, 0, NOFILE)
        for i in range(1, 4):
            net.cluster.start(i)
        wait_ready(net.urls)
        net.cluster.wait_height(3, timeout_s=60)
        log("network A up (node 0 at RLIMIT_NOFILE 1024)")
        phase(result, "idle_attack", lambda: idle_attack(net, knobs["idle_s"]))
        phase(result, "salvo", lambda: salvo(net, knobs["salvo"]))
        phase(result, "huge_body", lambda: huge_bodies(
            net, knobs["baseline_s"], knobs["huge_s"], knobs["huge_bodies"]))
    finally:
        net.close()


# -- network B: three honest nodes and a Byzantine peer ---------------------------------------


def tampered_catchup(net: ByzNet) -> dict[str, Any]:
    victim = 1
    byz = net.byzantine("tamper_catchup", victims=[victim])
    try:
        target = net.head(net.honest)
        restarted = time.monotonic()
        net.wipe_and_restart(victim)
        seconds = None
        while time.monotonic() - restarted < 90 and net.alive(victim):
            if ((net.status(victim) or {}).get("height") or 0) >= target:
                seconds = round(time.monotonic() - restarted, 1)
                break
            time.sleep(0.2)
        alive, code = net.alive(victim), net.exit_code(victim)
        faults = peer_faults(net.urls[victim], net.byz_key) if alive else {}
    finally:
        stats = byz.stop()
        net.ensure_running(victim)
    log(f"tampered catch-up: alive {alive} (exit {code}), back at {target} in {seconds} s, "
        f"faults against the peer {faults}; peer {stats}")
    return {"tampered_catchup_alive": alive and seconds is not None,
            "tampered_catchup_exit_code": code, "tampered_catchup_s": seconds,
            "tampered_catchup_faults": sum(faults.values()),
            "tampered_catchup_answers": stats.get("tampered_answers", 0)}


def amplification(net: ByzNet, seconds: float, paced_rate: float | None) -> dict[str, Any]:
    """Finding 3 as fast as the links take the requests; then (``paced_rate``) at the
    issue's rate, which tells the answers' cost from the cost of reading the frames."""
    passive = net.byzantine("passive")
    try:
        baseline = net.window(seconds, AMPLIFY_RATE_PER_S)
    finally:
        passive.stop()
    attacker = net.byzantine("amplify")
    try:
        attack = net.window(seconds, AMPLIFY_RATE_PER_S)
    finally:
        stats = attacker.stop()
        recovered = net.settle()
    paced_share = None
    if paced_rate:
        paced = net.byzantine("amplify", rate_per_s=paced_rate)
        try:
            paced_window = net.window(seconds, AMPLIFY_RATE_PER_S)
        finally:
            paced.stop()
            net.settle()
        paced_share = round(paced_window.load.acked_in_window
                            / max(1, baseline.load.acked_in_window), 3)
        log(f"amplification at {paced_rate:.0f} requests/s per node: share {paced_share}, "
            f"RSS growth {paced_window.rss_growth_mib} MiB")
    share = attack.load.acked_in_window / max(1, baseline.load.acked_in_window)
    log(f"amplification: acked {baseline.load.acked_in_window} passive, "
        f"{attack.load.acked_in_window} attacked (share {share:.2f}); RSS growth "
        f"{attack.rss_growth_mib} MiB; recovered without restart {recovered}; peer {stats}")
    return {"amplification_rss_growth_mib": attack.rss_growth_mib,
            "amplification_commit_share": round(share, 3),
            "amplification_baseline_acked": baseline.load.acked_in_window,
            "amplification_attack_acked": attack.load.acked_in_window,
            "amplification_requests_sent": stats.get("amplify_requests", 0),
            "amplification_recovered_without_restart": recovered,
            "amplification_attack_error_kinds": dict(attack.load.error_kinds),
            "amplification_paced_rate_per_s": paced_rate,
            "amplification_paced_commit_share": paced_share}


def evidence_flood(net: ByzNet, seconds: float) -> dict[str, Any]:
    flood = net.byzantine("evidence_flood")
    try:
        net.window(seconds, AMPLIFY_RATE_PER_S / 2, grace_s=0)
    finally:
        stats = flood.stop()
    counts = [len(evidence_entries(net.urls[i]) or []) for i in net.honest]
    net.restart(net.honest[0])
    after = len(evidence_entries(net.urls[net.honest[0]]) or [])
    log(f"evidence flood: {stats.get('conflicting_votes', 0)} votes sent; entries {counts}, "
        f"{after} after a restart of node {net.honest[0]} (cap {evidence_cap()})")
    return {"evidence_entries_after_flood": max(counts),
            "evidence_entries_after_restart": after, "evidence_cap": evidence_cap(),
            "evidence_votes_sent": stats.get("conflicting_votes", 0)}


def network_b(tmp: Path, knobs: dict[str, Any], result: dict[str, Any]) -> None:
    net = ByzNet(tmp / "b", 4, consensus=LAB_CONSENSUS)
    try:
        net.start(prefill_height=knobs["prefill"])
        log(f"network B up at height {net.head()}; node 3 replaced by a Byzantine peer")
        phase(result, "tampered_catchup", lambda: tampered_catchup(net))
        phase(result, "amplification",
              lambda: amplification(net, knobs["amplify_s"], knobs["paced_rate"]))
        phase(result, "evidence", lambda: evidence_flood(net, knobs["flood_s"]))
    finally:
        net.close()


def phase(result: dict[str, Any], name: str, run: Callable[[], dict[str, Any]]) -> None:
    """Run one phase into ``result``; a phase that raises is reported, not fatal."""
    log(f"-- {name}")
    try:
        result.update(run())
    except Exception as exc:  # a broken phase must not lose the others' figures
        log(f"{name} failed: {exc!r}")
        result[f"{name}_error"] = repr(exc)[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_hostile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short phases (harness work)")
    parser.add_argument("--only", choices=("a", "b"), help="run one network only")
    parser.add_argument("--idle-flood-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.idle_flood_child:
        idle_flood_child(args.target, args.seconds)
        return 0
    raise_own_fd_limit()
    knobs = QUICK if args.quick else FULL
    result: dict[str, Any] = {"quick": args.quick, "cores": os.cpu_count(),
                              "load_avg_start": round(os.getloadavg()[0], 2)}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="skillchain-hostile-") as tmp:
        if args.only in (None, "a"):
            network_a(Path(tmp), knobs, result)
        if args.only in (None, "b"):
            network_b(Path(tmp), knobs, result)
    result["load_avg_end"] = round(os.getloadavg()[0], 2)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
