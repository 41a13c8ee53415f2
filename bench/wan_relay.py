"""The WAN emulator of ``make bench-wan``: one TCP relay per directed validator link.

This kernel has no ``sch_netem`` (``tc qdisc ... netem`` fails), so delay, jitter
and loss are emulated in user space, by this process, which runs in the lab's hub
network namespace (``bench.wan_net``). Node i's ``config.json`` names the relay of
link ``i -> j`` as peer j's address; the relay accepts node i's connection and
dials node j's real link port, and carries both directions of that connection.

Why a relay and not per-packet queueing (NFQUEUE): NFQUEUE needs
``iptables``/``nft`` (neither is installed here) and a binding outside the
project's dependencies, and a Python verdict per packet on 2 shared cores would
cost the nodes more CPU than the relay's per-chunk work. A relay sees a byte
stream, not packets, so the model is stated per chunk (whatever one ``read``
returns, at most 256 KiB):

* **delay**: each chunk is delivered ``delay_ms`` ± ``jitter_ms`` (uniform) after
  it was read. A TCP stream is in order, so a chunk is never delivered before the
  one read ahead of it (``deliver_at = max(previous, now + delay)``): jitter
  shows up as head-of-line blocking, as on a real TCP flow.
* **loss**: a relay cannot drop bytes without breaking the stream, so a lost
  packet is modelled as the delay of its retransmission. A chunk counts
  ``ceil(bytes / 1448)`` packets, each lost with probability ``loss``. A loss
  among a chunk's last 3 packets is a tail loss (no duplicate ACKs follow it):
  it costs a retransmission timeout, Linux's ``srtt + 4 rttvar`` with its 200 ms
  floor, taken as ``max(200 ms, RTT + 8 x jitter)`` (200 ms at 20 ± 5 ms, 480 ms
  at 200 ± 10 ms). A loss earlier in the chunk is repaired
  by fast retransmit: one round trip (2 x delay). Only the worst applies per
  chunk, and later chunks queue behind it. This is pessimistic for small
  messages (Linux's tail-loss probe would often repair a lone lost vote in ~2
  RTT < 200 ms) and ignores congestion-window shrinking after a loss (no
  bandwidth limit is emulated: the WAN is assumed not to be the bottleneck).
* **cut**: ``bench.wan_net`` sets a node's veth down in the hub, a true black
  hole at layer 2 for everything the node sends or is sent: segments vanish,
  the relay's and the node's TCP stacks retransmit, as on a cut WAN line. The
  one thing the veth cannot hide is the relay itself: a peer dialling the cut
  node reaches the relay, whose TCP accepts at once, and the node's handshake
  then hangs until its timeout (5 s) and its dial backs off (3 s), which a real
  cut (an unanswered SYN: the dial times out in 2 s and is retried within a
  heartbeat) would not cause. So ``{"op": "cut"}`` also closes the listeners of
  every link towards the cut node: those dials are refused (a reset), which
  the node retries within a heartbeat, like a timed-out one (``node.links``);
  ``{"op": "heal"}`` listens again. Open streams are left to stall.

The profile of link ``i -> j`` is the worse (larger delay) of node i's and node
j's profiles: a "bad link" is one bureau's access line, seen on all its links.

Control: one JSON object per line on stdin, one answer per line on stdout:
``{"op": "profile", "node": 3, "delay_ms": 200, "jitter_ms": 10, "loss": 0.05}``,
``{"op": "reset"}`` (every node back to the default), ``{"op": "cut", "node": 3}``,
``{"op": "heal", "node": 3}``, ``{"op": "stats"}``.
Started as ``python -m bench.wan_relay LINKS.json``; prints ``ready`` once every
relay listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Profile", "chunk_delay_s"]

CHUNK_BYTES = 256 * 1024
MSS_BYTES = 1448
RTO_MIN_S = 0.2
TAIL_PACKETS = 3
QUEUE_MAX_BYTES = 16 * 1024 * 1024
"""Bytes in flight inside the relay per direction before it stops reading (the
stream's window): the sender then sees back-pressure, as from a real receiver."""


@dataclass(frozen=True)
class Profile:
    """One-way delay, jitter (uniform ±) and per-packet loss of a link."""

    delay_ms: float = 20.0
    jitter_ms: float = 5.0
    loss: float = 0.005


def chunk_delay_s(profile: Profile, nbytes: int, rng: random.Random) -> tuple[float, bool]:
    """How long after it was read a chunk of ``nbytes`` is delivered, and whether a
    (modelled) lost packet added to it (module docstring)."""
    delay = max(0.0, profile.delay_ms + rng.uniform(-profile.jitter_ms, profile.jitter_ms)) / 1000
    if profile.loss <= 0:
        return delay, False
    rtt = 2 * profile.delay_ms / 1000
    packets = max(1, math.ceil(nbytes / MSS_BYTES))
    tail = min(TAIL_PACKETS, packets)
    if rng.random() < 1 - (1 - profile.loss) ** tail:
        return delay + max(RTO_MIN_S, rtt + 8 * profile.jitter_ms / 1000), True
    if rng.random() < 1 - (1 - profile.loss) ** (packets - tail):
        return delay + rtt, True
    return delay, False


@dataclass
class Relay:
    """Every directed link's listener, and the profiles in force."""

    default: Profile
    rng: random.Random = field(default_factory=lambda: random.Random(14))
    nodes: dict[int, Profile] = field(default_factory=dict)
    bytes_forwarded: int = 0
    delayed_by_loss: int = 0
    chunks: int = 0
    servers: dict[tuple[int, int], asyncio.base_events.Server] = field(default_factory=dict)
    specs: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def profile(self, src: int, dst: int) -> Profile:
        a = self.nodes.get(src, self.default)
        b = self.nodes.get(dst, self.default)
        return a if a.delay_ms >= b.delay_ms else b

    async def listen(self, link: dict[str, Any]) -> None:
        src, dst, target = link["src"], link["dst"], tuple(link["target"])

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(src, dst, target, reader, writer)

        host, port = link["listen"]
        self.specs[(src, dst)] = link
        self.servers[(src, dst)] = await asyncio.start_server(handle, host, port, backlog=64)

    async def set_cut(self, node: int, cut: bool) -> None:
        for key, link in self.specs.items():
            if key[1] != node:
                continue
            if cut and key in self.servers:
                self.servers.pop(key).close()
            elif not cut and key not in self.servers:
                await self.listen(link)

    async def _serve(
        self, src: int, dst: int, target: tuple[str, int],
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*target), 10)
        except (OSError, TimeoutError):  # the destination is down or cut off
            writer.transport.abort()
            return
        try:
            await asyncio.gather(
                self._pipe(src, dst, reader, up_writer), self._pipe(dst, src, up_reader, writer)
            )
        finally:
            writer.transport.abort()
            up_writer.transport.abort()

    async def _pipe(
        self, src: int, dst: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Read chunks as they come; deliver each at its time, in order."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        room = asyncio.Event()
        room.set()
        queued = [0]

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                at, chunk = item
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()
                queued[0] -= len(chunk)
                if queued[0] <= QUEUE_MAX_BYTES:
                    room.set()

        sender = asyncio.create_task(deliver())
        last = 0.0
        try:
            while chunk := await reader.read(CHUNK_BYTES):
                delay, lost = chunk_delay_s(self.profile(src, dst), len(chunk), self.rng)
                self.chunks += 1
                self.delayed_by_loss += lost
                last = max(last, time.monotonic() + delay)
                self.bytes_forwarded += len(chunk)
                queued[0] += len(chunk)
                queue.put_nowait((last, chunk))
                if queued[0] > QUEUE_MAX_BYTES:
                    room.clear()
                    await room.wait()
                if sender.done():
                    break
            queue.put_nowait(None)
            with contextlib.suppress(OSError, ConnectionError):
                await sender
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            sender.cancel()
            writer.transport.abort()  # one side gone: tear the whole flow down

    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op in ("cut", "heal"):
            await self.set_cut(int(request["node"]), op == "cut")
        elif op == "profile":
            self.nodes[int(request["node"])] = Profile(
                float(request["delay_ms"]), float(request["jitter_ms"]), float(request["loss"])
            )
        elif op == "reset":
            self.nodes.clear()
        elif op != "stats":
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {
            "ok": True,
            "bytes_forwarded": self.bytes_forwarded,
            "chunks": self.chunks,
            "delayed_by_loss": self.delayed_by_loss,
        }


async def serve(links_path: Path) -> None:
    spec = json.loads(links_path.read_text())
    relay = Relay(Profile(**spec["default"]))
    for link in spec["links"]:
        await relay.listen(link)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            answer = await relay.command(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            answer = {"ok": False, "error": str(exc)}
        print(json.dumps(answer), flush=True)
    for server in relay.servers.values():  # stdin closed: the bench is gone, so are we
        server.close()


def main() -> None:
    asyncio.run(serve(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
