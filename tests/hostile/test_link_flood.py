"""Finding 1 (issue 13), link port: silent connections must not lock validators out.

A validator's link listener runs in its own process under a low
``RLIMIT_NOFILE`` (128), as a node under a small fd limit would. An attacker
on another loopback address (127.0.0.2, as a host on the network would be)
keeps 300 TCP connections to the link port open and silent, reopening each
one the listener closes. Meanwhile a real validator (real key, real
``PeerNetwork``) dials the listener: its handshake must complete and its
frames must arrive well before the 5 s handshake timeout could free anything,
and the listener must have counted what it refused.

Before the caps the listener accepted every silent connection, ran out of
descriptors (``accept`` failing with EMFILE) and the honest dial waited in the
backlog until the silent ones timed out — and the attacker took their places.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

from tests.hostile.linkpeer import KEYS, eventually, free_port, network

ROOT = Path(__file__).resolve().parents[2]
CHILD_NOFILE = 128
SILENT = 300
ATTACKER_HOST = "127.0.0.2"
HONEST_DEADLINE_S = 4.0  # < the 5 s handshake timeout: no waiting the flood out


def _child(port_a: int, port_b: int) -> None:
    """The listener under attack: validator 0 on ``port_a``; prints each frame it gets."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (CHILD_NOFILE, hard))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        inbox: list = []
        net = network(0, {1: port_b})
        net._on_frame = lambda sender, value: print(  # noqa: SLF001 - report each frame
            json.dumps({"frame": value[1].hex(), "from": sender.hex()}), flush=True
        )
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set)),
                         daemon=True).start()
        await net.start("127.0.0.1", port_a)
        print(json.dumps({"ready": True}), flush=True)
        await done.wait()
        faults = getattr(net, "faults", None)
        dropped = {f"{s}/{k}": n for (s, k), n in faults.dropped.items()} if faults else {}
        print(json.dumps({"dropped": dropped, "inbox": len(inbox)}), flush=True)
        await net.stop()

    asyncio.run(main())


async def _silent(port: int, stop: asyncio.Event, opened: list[int]) -> None:
    """One attacker slot: a connection that never sends a byte, reopened when closed."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(ATTACKER_HOST, 0)
            )
        except OSError:
            await asyncio.sleep(0.05)
            continue
        opened[0] += 1
        with contextlib.suppress(OSError):
            closed = asyncio.ensure_future(reader.read())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            stopping.cancel()
        writer.close()
        await asyncio.sleep(0.05)


def test_silent_connections_do_not_lock_a_validator_out():
    port_a, port_b = free_port(), free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.hostile.test_link_flood", str(port_a), str(port_b)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[dict] = []
    reader = threading.Thread(
        target=lambda: [lines.append(json.loads(line)) for line in child.stdout], daemon=True
    )
    reader.start()

    async def scenario() -> float:
        await eventually(lambda: any("ready" in line for line in lines), timeout=30)
        stop, opened = asyncio.Event(), [0]
        attackers = [asyncio.create_task(_silent(port_a, stop, opened)) for _ in range(SILENT)]
        honest = None
        try:
            await eventually(lambda: opened[0] >= SILENT, timeout=30)
            await asyncio.sleep(0.5)  # the flood is in place
            loop = asyncio.get_running_loop()
            started = loop.time()
            honest = network(1, {0: port_a})
            await honest.start("127.0.0.1", port_b)
            honest.send(KEYS[0].public_key, ["c", b"through the flood"])
            await eventually(
                lambda: any(line.get("frame") == b"through the flood".hex() for line in lines),
                timeout=HONEST_DEADLINE_S,
            )
            return loop.time() - started
        finally:
            stop.set()
            for task in attackers:
                task.cancel()
            await asyncio.gather(*attackers, return_exceptions=True)
            if honest is not None:
                await honest.stop()

    try:
        elapsed = asyncio.run(scenario())
        child.stdin.close()
        child.wait(timeout=30)
        reader.join(timeout=5)
        final = next(line for line in lines if "dropped" in line)
        refused = sum(n for kind, n in final["dropped"].items() if kind.startswith("link/"))
        assert refused > 0, final  # the connections beyond the caps were counted
        print(f"honest frame through the flood after {elapsed:.2f} s; listener: {final}")
        assert child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_silent_hosts_on_many_addresses_take_only_their_own_slots():
    """Ten attacker addresses x 12 silent connections: held open at most the caps.

    Before the caps all 120 stayed open for the 5 s handshake timeout. Now each
    address keeps 8 and all non-validator hosts together 16 (the pending cap of
    a small set); the rest are closed at once and counted, and the validator
    (dialling from its configured host, 127.0.0.1) still gets through.
    """

    async def scenario() -> None:
        port_a, port_b = free_port(), free_port()
        listener = network(0, {1: port_b})
        await listener.start("127.0.0.1", port_a)
        attackers: list[asyncio.StreamWriter] = []
        readers: list[asyncio.StreamReader] = []
        honest = None
        try:
            for host in range(2, 12):
                for _ in range(12):
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port_a, local_addr=(f"127.0.0.{host}", 0)
                    )
                    readers.append(reader)
                    attackers.append(writer)
            await asyncio.sleep(0.5)
            for reader in readers:  # notice closes that arrived without a read
                with contextlib.suppress(TimeoutError, OSError):
                    await asyncio.wait_for(reader.read(1), 0.01)
            held = sum(1 for reader in readers if not reader.at_eof())
            assert held <= 16, held
            dropped = listener.faults.dropped
            assert dropped[("link", "address_cap")] + dropped[("link", "handshake_cap")] >= 104
            inbox: list = []
            got = lambda: any(value == ["c", b"still here"] for _, value in inbox)  # noqa: E731
            listener._on_frame = lambda sender, value: inbox.append((sender, value))  # noqa: SLF001
            honest = network(1, {0: port_a})
            await honest.start("127.0.0.1", port_b)
            honest.send(KEYS[0].public_key, ["c", b"still here"])
            await eventually(got, timeout=HONEST_DEADLINE_S)
        finally:
            for writer in attackers:
                writer.close()
            if honest is not None:
                await honest.stop()
            await listener.stop()

    asyncio.run(scenario())


if __name__ == "__main__":
    _child(int(sys.argv[1]), int(sys.argv[2]))
