"""The WAN lab's parts (``make bench-wan``): the delay model, the relay, the namespaces.

No timing is asserted (speed is for benchmarks): the model's draws, the relay's
byte stream and the lab's reachability and clean-up are.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess

import pytest

from bench.wan_net import Lab
from bench.wan_relay import Profile, Relay, chunk_delay_s


def test_no_loss_means_delay_within_jitter() -> None:
    rng = random.Random(1)
    profile = Profile(20, 5, 0.0)
    for nbytes in (1, 1448, 256 * 1024):
        delay, lost = chunk_delay_s(profile, nbytes, rng)
        assert 0.015 <= delay <= 0.025 and not lost


def test_certain_loss_costs_a_retransmission_timeout() -> None:
    rng = random.Random(2)
    delay, lost = chunk_delay_s(Profile(20, 5, 1.0), 100, rng)
    assert lost and delay >= 0.015 + 0.2
    delay, lost = chunk_delay_s(Profile(200, 10, 1.0), 100, rng)
    assert lost and delay >= 0.19 + 0.48  # RTT + 8 x jitter above the 200 ms floor


def test_loss_grows_with_chunk_size() -> None:
    rng = random.Random(3)
    profile = Profile(20, 5, 0.005)
    small = sum(chunk_delay_s(profile, 200, rng)[1] for _ in range(4000))
    large = sum(chunk_delay_s(profile, 200 * 1448, rng)[1] for _ in range(4000))
    assert small < 150 < 2000 < large  # ~0.5% of 1-packet chunks, ~63% of 200-packet ones


async def _echo_through_relay(payload: bytes) -> bytes:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    target = server.sockets[0].getsockname()[:2]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    relay = Relay(Profile(1, 1, 0.2))
    await relay.listen({"src": 0, "dst": 1, "listen": ["127.0.0.1", port], "target": target})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    back = bytearray()

    async def read_all() -> None:
        while len(back) < len(payload):
            back.extend(await reader.read(65536))

    pump = asyncio.create_task(read_all())
    for i in range(0, len(payload), 7000):  # many chunks, each with its own delay draw
        writer.write(payload[i : i + 7000])
        await writer.drain()
    await asyncio.wait_for(pump, 30)
    writer.close()
    for s in (*relay.servers.values(), server):
        s.close()
    assert relay.delayed_by_loss > 0  # the model did delay some chunks
    return bytes(back)


def test_relay_keeps_the_stream_whole_and_in_order() -> None:
    payload = os.urandom(1_000_000)
    assert asyncio.run(_echo_through_relay(payload)) == payload


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root"
)
def test_lab_connects_cuts_heals_and_leaves_nothing() -> None:
    lab = Lab(2)
    lab.up()
    try:
        probe = [*lab.exec_prefix(lab.ns(0)), "python3", "-c",
                 "import socket,sys; socket.create_connection((sys.argv[1], 9), 2)", lab.ip(1)]
        refused = subprocess.run(probe, capture_output=True, text=True)
        assert "ConnectionRefused" in refused.stderr  # reachable: the port answers with a reset
        lab.cut(1)
        cut = subprocess.run(probe, capture_output=True, text=True)
        assert "timed out" in cut.stderr  # a black hole: no answer at all
        lab.heal(1)
        assert "ConnectionRefused" in subprocess.run(probe, capture_output=True, text=True).stderr
    finally:
        lab.down()
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"swan{lab.tag}-" not in names
