"""Connection floods: the RPC holds its caps, answers honest clients and keeps committing.

Issue 13, finding 1: 1,100 idle TCP connections to the RPC of a node at
``RLIMIT_NOFILE`` 1024 stopped it answering, then LevelDB failed with "Too many
open files" inside a commit and the node fail-stopped.

* ``test_idle_flood_under_a_low_fd_limit`` — a real node process whose soft
  and hard fd limits are 256 (so it cannot raise them) is flooded from eight
  loopback addresses with 600 idle connections, re-opened as the node closes
  them; a fresh connection from 127.0.0.1 must keep getting ``/v1/status``,
  txs must keep committing, and the log must stay short and free of EMFILE.
* The other tests drive ``node.listeners`` directly over real sockets: caps
  per address and in total, eviction of silent connections, the first-byte
  timeout, and accept errors logged at a bounded rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import resource
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cli.devnet import wait_ready
from cli.netgen import free_base_port, new_network
from node.faults import Faults
from node.listeners import ConnectionBudget, connection_allowance, guarded
from tests.node.cluster import Cluster

FD_LIMIT = 256
ATTACKERS = [f"127.0.0.{i}" for i in range(2, 10)]
IDLE_CONNECTIONS = 600
FLOOD_S = 20.0


def start_limited(home: Path, nofile: int) -> subprocess.Popen[bytes]:
    """A node process with soft and hard RLIMIT_NOFILE ``nofile``."""
    log = open(home / "node.log", "ab")  # noqa: SIM115 - handed to the child

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "node", "start", "--home", str(home)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=limit,
        start_new_session=True,
    )


@pytest.fixture
def limited(tmp_path: Path):
    network = new_network(tmp_path / "net", 1, base_port=free_base_port(1))
    cluster = Cluster(tmp_path / "net", network.homes, [start_limited(network.homes[0], FD_LIMIT)])
    wait_ready(cluster.urls)
    yield cluster
    cluster.stop_all()


def _get(url: str, path: str, timeout_s: float) -> dict:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        connection.request("GET", path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _post(url: str, path: str, body: bytes, timeout_s: float) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/msgpack"})
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


async def _hold_idle(host: str, port: int, source: str, stop: asyncio.Event) -> None:
    """Keep one idle connection open from ``source``, re-opening it whenever it closes."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            reader_task = asyncio.ensure_future(reader.read())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({reader_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            reader_task.cancel()
            stopper.cancel()
        except OSError:
            pass
        finally:
            writer.close()
        await asyncio.sleep(0.05)


def _flood(url: str, seconds: float) -> None:
    host, port = url.removeprefix("http://").split(":")

    async def run() -> None:
        stop = asyncio.Event()
        tasks = [
            asyncio.ensure_future(
                _hold_idle(host, int(port), ATTACKERS[i % len(ATTACKERS)], stop)
            )
            for i in range(IDLE_CONNECTIONS)
        ]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())


def test_idle_flood_under_a_low_fd_limit(limited):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the attacker needs its own fds
    url = limited.urls[0]
    builder = limited.builder("jx-hrss")
    start_height = _get(url, "/v1/status", 5)["height"]
    log_lines_before = len(limited.log(0).splitlines())
    flood = threading.Thread(target=_flood, args=(url, FLOOD_S))
    flood.start()
    time.sleep(3)  # let the flood fill every place it can
    latencies, failures, sent = [], [], 0
    while flood.is_alive():
        started = time.monotonic()
        try:
            _get(url, "/v1/status", 2.0)
            latencies.append(time.monotonic() - started)
            tx = builder.build("registry.suspend_actor", [f"flood-{sent}", "x"], start_height)
            sent += _post(url, "/v1/txs", tx.encode(), 5.0) == 202
        except OSError as exc:
            failures.append(repr(exc))
        time.sleep(0.2)
    flood.join()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert limited.procs[0].poll() is None, "the node died under the flood"
    assert not failures, failures[:5]
    latencies.sort()
    print(json.dumps({"idle_flood": {
        "probes": len(latencies), "failures": len(failures), "txs_admitted": sent,
        "status_p50_ms": round(1000 * latencies[len(latencies) // 2]) if latencies else None,
        "status_max_ms": round(1000 * latencies[-1]) if latencies else None,
    }}))
    assert latencies and latencies[len(latencies) // 2] < 1.0, latencies
    deadline = time.monotonic() + 30
    while _get(url, "/v1/status", 5)["height"] <= start_height and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sent > 0 and _get(url, "/v1/status", 5)["height"] > start_height
    log = limited.log(0)
    assert "Too many open files" not in log
    assert len(log.splitlines()) - log_lines_before < 100, log[-3000:]
    metrics = _get_text(url, "/metrics")
    refused = sum(
        int(n)
        for n in re.findall(
            r'skillchain_dropped_total\{source="rpc",kind="conn_[a-z_]+"\} (\d+)', metrics
        )
    )
    assert refused > 0, "the flood should have met the connection caps"


def _get_text(url: str, path: str) -> str:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().read().decode()
    finally:
        connection.close()


# -- node.listeners over real sockets ---------------------------------------------------


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


async def _serve(budget: ConnectionBudget, first_byte_s: float | None = None):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(guarded(_Echo, budget, first_byte_s), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _is_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Whether the connection still echoes."""
    try:
        writer.write(b"x")
        await writer.drain()
        return await asyncio.wait_for(reader.read(1), 1.0) == b"x"
    except (OSError, TimeoutError):
        return False


async def _connect(port: int, source: str = "127.0.0.1"):
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


def test_caps_per_address_and_in_total():
    async def run() -> None:
        faults = Faults()
        budget = ConnectionBudget(3, 2, faults, "test")
        server, port = await _serve(budget)
        a1, a2, a3 = [await _connect(port, "127.0.0.2") for _ in range(3)]
        assert await _is_open(*a1) and await _is_open(*a2) and not await _is_open(*a3)
        assert faults.dropped[("test", "conn_cap_address")] == 1
        b1, b2 = [await _connect(port, "127.0.0.3") for _ in range(2)]
        assert await _is_open(*b1) and not await _is_open(*b2)
        assert faults.dropped[("test", "conn_cap_total")] == 1
        a1[1].close()
        await asyncio.sleep(0.1)
        assert budget.open == 2 and budget.open_from("127.0.0.2") == 1
        c = await _connect(port, "127.0.0.4")
        assert await _is_open(*c)
        server.close()

    asyncio.run(run())


def test_a_silent_connection_makes_room_and_a_working_one_does_not():
    async def run() -> None:
        faults = Faults()
        budget = ConnectionBudget(3, 10, faults, "test")
        server, port = await _serve(budget, first_byte_s=30)
        working = await _connect(port, "127.0.0.2")
        assert await _is_open(*working)  # has spoken: never evicted
        silent = [await _connect(port, "127.0.0.3") for _ in range(2)]
        await asyncio.sleep(0.1)
        newcomer = await _connect(port, "127.0.0.4")  # evicts the flooder's oldest
        assert await _is_open(*newcomer)
        assert faults.dropped[("test", "conn_evicted_silent")] == 1
        assert not await _is_open(*silent[0]) and await _is_open(*working)
        flooder = await _connect(port, "127.0.0.3")  # may not evict its own kind
        assert not await _is_open(*flooder)
        assert faults.dropped[("test", "conn_cap_total")] == 1
        assert await _is_open(*silent[1])
        server.close()

    asyncio.run(run())


def test_first_byte_timeout_closes_silent_connections():
    async def run() -> None:
        faults = Faults()
        budget = ConnectionBudget(10, 10, faults, "test")
        server, port = await _serve(budget, first_byte_s=0.3)
        silent = await _connect(port)
        talker = await _connect(port)
        assert await _is_open(*talker)
        await asyncio.sleep(0.6)
        assert await asyncio.wait_for(silent[0].read(), 1.0) == b""
        assert await _is_open(*talker)
        assert faults.dropped[("test", "conn_first_byte_timeout")] == 1
        assert budget.open == 1
        server.close()

    asyncio.run(run())


def test_connection_allowance_reserves_fds_for_leveldb():
    assert connection_allowance(65536) == 65536 - 256 - 1000
    assert connection_allowance(1024) == 256  # too low to reserve in full: a quarter
    assert connection_allowance(256) == 64


ACCEPT_SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, resource, socket, sys
    from node.faults import Faults
    from node.listeners import install_accept_error_limiter

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    async def main():
        loop = asyncio.get_running_loop()
        faults = Faults()
        if sys.argv[1] == "limited":
            install_accept_error_limiter(loop, faults)
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        hog = []
        try:
            while True:
                hog.append(open("/dev/null"))
        except OSError:
            pass
        await asyncio.sleep(float(sys.argv[2]))
        print("accept_errors", faults.dropped[("listener", "accept_error")], flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("mode", ["limited", "plain"])
def test_accept_errors_are_logged_at_a_bounded_rate(mode):
    seconds = 4.0
    proc = subprocess.Popen(
        [sys.executable, "-c", ACCEPT_SCRIPT, mode, str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    port = int(proc.stdout.readline())
    socks = []
    deadline = time.monotonic() + seconds - 0.5
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=0.2))
        time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    for sock in socks:
        sock.close()
    reports = err.count("accept() failed") + err.count("out of system resource")
    if mode == "limited":
        assert reports == 1, err[-2000:]
        assert int(out.split()[-1]) >= 2
    else:
        assert reports >= 3, err[-2000:]  # asyncio's own: one per retry (1 s)
