"""Validator links over real loopback sockets: handshake, framing, refusal."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from chain.codec import decode
from chain.crypto import get_suite
from node.links import PeerNetwork, read_frame, write_frame

SUITE = get_suite("ed25519-sha256")
KEYS = [SUITE.signer_from_seed(bytes([i + 1]) * 32) for i in range(3)]
GENESIS = b"\x01" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def network(index, ports, members, inbox, chain="jx", genesis=GENESIS):
    peers = {KEYS[i].public_key: ("127.0.0.1", ports[i]) for i in range(len(ports))}
    return PeerNetwork(
        SUITE,
        KEYS[index],
        chain,
        genesis,
        peers,
        lambda key: key in members,
        lambda sender, value: inbox.append((sender, value)),
    )


def only_heartbeats(data: bytes) -> bool:
    """Whether ``data`` is a whole number of heartbeat frames (``["h", tip]``)."""
    while data:
        (length,) = struct.unpack(">I", data[:4])
        if decode(data[4 : 4 + length])[0] != "h":
            return False
        data = data[4 + length :]
    return True


async def eventually(check, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def test_two_validators_exchange_frames_both_ways():
    async def scenario():
        ports = [free_port(), free_port()]
        members = {KEYS[0].public_key, KEYS[1].public_key}
        inbox0, inbox1 = [], []
        a, b = network(0, ports, members, inbox0), network(1, ports, members, inbox1)
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        try:
            await eventually(lambda: a.connected() and b.connected())
            a.send(KEYS[1].public_key, ["c", b"hello"])
            b.broadcast(["t", [b"x", b"y"]])
            await eventually(lambda: inbox1 and inbox0)
            assert inbox1 == [(KEYS[0].public_key, ["c", b"hello"])]
            assert inbox0 == [(KEYS[1].public_key, ["t", [b"x", b"y"]])]
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_key_outside_the_validator_set_is_refused():
    async def scenario():
        ports = [free_port(), free_port(), free_port()]
        members = {KEYS[0].public_key, KEYS[1].public_key}  # KEYS[2] is not a validator
        inbox = []
        a = network(0, ports, members, inbox)
        outsider = network(2, ports, {KEYS[0].public_key}, [])
        await a.start("127.0.0.1", ports[0])
        await outsider.start("127.0.0.1", ports[2])
        try:
            await eventually(lambda: a.stats.refused >= 1)
            outsider.send(KEYS[0].public_key, ["c", b"let me in"])
            await asyncio.sleep(0.3)
            assert inbox == []
            assert KEYS[0].public_key not in outsider.connected()
            assert a.faults.dropped[("link", "refused")] >= 1
        finally:
            await a.stop()
            await outsider.stop()

    asyncio.run(scenario())


def test_other_chain_is_refused_and_garbage_closes_the_link():
    async def scenario():
        ports = [free_port(), free_port()]
        members = {KEYS[0].public_key, KEYS[1].public_key}
        inbox = []
        a = network(0, ports, members, inbox)
        foreign = network(1, ports, members, [], genesis=b"\x02" * 32)
        await a.start("127.0.0.1", ports[0])
        await foreign.start("127.0.0.1", ports[1])
        try:
            await eventually(lambda: a.stats.refused >= 1)
            reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
            writer.write(b"\x00\x00\x00\x05\xc1\xc1\xc1\xc1\xc1")
            await writer.drain()
            assert await reader.read() == b""  # closed on us
            await eventually(lambda: a.stats.garbage >= 1)
            reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
            writer.write(b"\xff\xff\xff\xff")  # absurd length
            await writer.drain()
            assert await reader.read() == b""
            assert inbox == []
            await eventually(lambda: a.faults.dropped[("link", "bad_handshake")] >= 2)
        finally:
            await a.stop()
            await foreign.stop()

    asyncio.run(scenario())


def test_frame_round_trip_over_a_stream():
    async def scenario():
        received = []

        async def serve(reader, writer):
            received.append(await read_frame(reader))
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        write_frame(writer, [1, b"two", "three", [None, True]])
        await writer.drain()
        await eventually(lambda: received)
        writer.close()
        server.close()
        assert received == [[1, b"two", "three", [None, True]]]

    asyncio.run(scenario())


@pytest.mark.parametrize("n", [3])
def test_reconnects_after_the_peer_restarts(n):
    async def scenario():
        ports = [free_port(), free_port()]
        members = {KEYS[0].public_key, KEYS[1].public_key}
        inbox = []
        a = network(0, ports, members, [])
        b = network(1, ports, members, inbox)
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        await eventually(lambda: a.connected())
        await b.stop()
        await eventually(lambda: not a.connected())
        b = network(1, ports, members, inbox)
        await b.start("127.0.0.1", ports[1])
        try:
            await eventually(lambda: a.connected(), timeout=10)
            a.send(KEYS[1].public_key, ["c", b"again"])
            await eventually(lambda: inbox)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_a_new_authenticated_link_replaces_the_older_one_from_the_same_key():
    from tests.hostile.linkpeer import dial_as

    async def scenario():
        ports = [free_port(), free_port()]
        members = {KEYS[0].public_key, KEYS[1].public_key}
        inbox = []
        a = network(0, ports, members, inbox)
        await a.start("127.0.0.1", ports[0])
        try:
            old_reader, old_writer = await dial_as(KEYS[1], ports[0])
            await eventually(lambda: a.peer_stats()[KEYS[1].public_key].connections_in == 1)
            new_reader, new_writer = await dial_as(KEYS[1], ports[0])
            # the old half is closed: read() ends, having seen only the listener's heartbeats
            assert only_heartbeats(await asyncio.wait_for(old_reader.read(), 5))
            await eventually(lambda: a.peer_stats()[KEYS[1].public_key].connections_in == 1)
            write_frame(new_writer, ["c", b"on the new link"])
            await new_writer.drain()
            await eventually(lambda: inbox)
            assert inbox == [(KEYS[1].public_key, ["c", b"on the new link"])]
            assert KEYS[1].public_key in a.stats.connected_in
            old_writer.close()
            new_writer.close()
        finally:
            await a.stop()

    asyncio.run(scenario())


def test_peer_stats_show_each_peer_and_render_as_metrics():
    async def scenario():
        ports = [free_port(), free_port()]
        members = {KEYS[0].public_key, KEYS[1].public_key}
        a, b = network(0, ports, members, []), network(1, ports, members, [])
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        try:
            await eventually(lambda: a.connected() and b.connected())
            await eventually(lambda: a.peer_stats()[KEYS[1].public_key].connections_in == 1)
            a.send(KEYS[1].public_key, ["c", b"counted"])
            await eventually(lambda: a.peer_stats()[KEYS[1].public_key].sent_frames == 1)
            stats = a.peer_stats()[KEYS[1].public_key]
            assert stats.connected_out
            assert stats.queued_frames == 0 and stats.dropped_frames == 0
            lines = a.metric_lines()
            label = KEYS[1].public_key.hex()[:16]
            assert f'skillchain_link_connected{{peer="{label}",direction="out"}} 1' in lines
            assert f'skillchain_link_connected{{peer="{label}",direction="in"}} 1' in lines
            assert any(line.startswith("skillchain_link_queued_bytes{") for line in lines)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())
