"""Validator links over real TLS 1.3 on loopback: mutual authentication, the certificate
bound to the validator key, plaintext refused; heartbeats, tips and silence.

Nothing is mocked: real certificates (self-signed by ``node.tls`` or issued by a
test CA), real ``ssl`` contexts, real sockets. Heartbeat tests use short
intervals (0.25 s / 1 s) so that they finish quickly; they assert what
happens, not how fast.
"""

from __future__ import annotations

import asyncio
import ssl
import struct

from chain.codec import encode
from tests.hostile.linkpeer import (
    KEYS,
    Refused,
    dial_as,
    eventually,
    free_port,
    network,
    serve_as,
)
from tests.node.tlsfiles import Authority, self_signed, tls_of

BEAT, SILENCE = 0.25, 1.0


def pair(tmp_path, **kwargs):
    """Two TLS validators (self-signed certificates in one bundle) on free ports."""
    certs, bundle = self_signed(tmp_path, ["a", "b"])
    ports = {0: free_port(), 1: free_port()}
    inbox_a: list = []
    inbox_b: list = []
    a = network(0, {1: ports[1]}, inbox_a, tls=tls_of(*certs["a"], bundle), **kwargs)
    b = network(1, {0: ports[0]}, inbox_b, tls=tls_of(*certs["b"], bundle), **kwargs)
    return a, b, ports, inbox_a, inbox_b, certs, bundle


def test_tls_links_carry_frames_both_ways_and_heartbeats_carry_tips(tmp_path):
    async def scenario():
        a, b, ports, inbox_a, inbox_b, _, _ = pair(tmp_path, heartbeat_s=BEAT, silence_s=SILENCE)
        a.set_tip(7)
        b.set_tip(11)
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        try:
            await eventually(lambda: a.connected() and b.connected())
            a.send(KEYS[1].public_key, ["c", b"over tls"])
            b.broadcast(["t", [b"x"]])
            await eventually(lambda: inbox_a and inbox_b)
            assert inbox_b == [(KEYS[0].public_key, ["c", b"over tls"])]
            assert inbox_a == [(KEYS[1].public_key, ["t", [b"x"]])]
            await eventually(lambda: b.peer_tips().get(KEYS[0].public_key) == 7)
            await eventually(lambda: a.peer_tips().get(KEYS[1].public_key) == 11)
            a.set_tip(8)
            await eventually(lambda: b.peer_tips().get(KEYS[0].public_key) == 8)
            await asyncio.sleep(3 * BEAT)  # idle: heartbeats flow, none reach consensus
            assert len(inbox_a) == 1 and len(inbox_b) == 1
            assert a.connected() and b.connected()
            assert not any(kind == "silent" for _, kind in a.faults.dropped)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_ca_issued_certificates_are_accepted(tmp_path):
    async def scenario():
        ca = Authority(tmp_path / "ca")
        ports = {0: free_port(), 1: free_port()}
        inbox: list = []
        a = network(0, {1: ports[1]}, tls=tls_of(*ca.issue("a"), ca.path))
        b = network(1, {0: ports[0]}, inbox, tls=tls_of(*ca.issue("b"), ca.path))
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        try:
            await eventually(lambda: a.connected() and b.connected())
            a.send(KEYS[1].public_key, ["c", b"ca"])
            await eventually(lambda: inbox)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_plaintext_peers_are_refused_and_counted(tmp_path):
    async def scenario():
        certs, bundle = self_signed(tmp_path, ["a"])
        port = free_port()
        inbox: list = []
        listener = network(0, {1: free_port()}, inbox, tls=tls_of(*certs["a"], bundle))
        await listener.start("127.0.0.1", port)
        plain = network(1, {0: port})  # a validator key, but no TLS
        await plain.start("127.0.0.1", free_port())
        try:
            faults = listener.faults
            await eventually(lambda: faults.dropped[("link", "tls_plaintext")] >= 1)
            try:  # a hand-made plaintext HELLO with a real validator key: refused too
                await asyncio.wait_for(dial_as(KEYS[1], port), 5)
                raise AssertionError("a plaintext handshake was answered")
            except (Refused, OSError, asyncio.IncompleteReadError, ValueError):
                pass
            await eventually(lambda: faults.dropped[("link", "tls_plaintext")] >= 2)
            plain.send(KEYS[0].public_key, ["c", b"let me in"])
            await asyncio.sleep(0.3)
            assert inbox == []
            assert not listener.stats.connected_in
            assert KEYS[0].public_key not in plain.connected()
        finally:
            await listener.stop()
            await plain.stop()

    asyncio.run(scenario())


def test_a_certificate_outside_the_bundle_fails_tls_and_is_counted(tmp_path):
    async def scenario():
        certs, bundle = self_signed(tmp_path / "net", ["a"])
        stranger, own_bundle = self_signed(tmp_path / "stranger", ["s"])
        port = free_port()
        inbox: list = []
        listener = network(0, {1: free_port()}, inbox, tls=tls_of(*certs["a"], bundle))
        # a real validator key with a certificate the listener's bundle does not hold
        intruder = network(1, {0: port}, tls=tls_of(*stranger["s"], bundle))
        await listener.start("127.0.0.1", port)
        await intruder.start("127.0.0.1", free_port())
        try:
            await eventually(lambda: listener.faults.dropped[("link", "tls_bad_cert")] >= 1)
            assert inbox == [] and not listener.stats.connected_in
            assert own_bundle.exists()
        finally:
            await listener.stop()
            await intruder.stop()

    asyncio.run(scenario())


async def _relay(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, target: int):
    """A man in the middle with a valid CA-issued certificate: terminates TLS from the
    dialer, opens its own TLS to ``target`` and copies bytes both ways."""

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", target, ssl=client_ctx, server_hostname=None
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    return server, server.sockets[0].getsockname()[1]


def test_a_relay_with_a_valid_certificate_fails_the_signed_handshake(tmp_path):
    """The certificate is bound to the validator key: TLS succeeds on both hops (the
    relay's certificate is issued by the network's own CA), the handshake frames are
    relayed untouched, and still both honest dialers refuse the link."""

    async def scenario():
        ca = Authority(tmp_path / "ca")
        mitm = tls_of(*ca.issue("mitm"), ca.path)
        ports = {0: free_port(), 1: free_port()}
        relay_to_b, port_b = await _relay(mitm.server, mitm.client, ports[1])
        relay_to_a, port_a = await _relay(mitm.server, mitm.client, ports[0])
        inbox_a: list = []
        inbox_b: list = []
        a = network(0, {1: port_b}, inbox_a, tls=tls_of(*ca.issue("a"), ca.path))
        b = network(1, {0: port_a}, inbox_b, tls=tls_of(*ca.issue("b"), ca.path))
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        try:
            await eventually(lambda: a.faults.dropped[("link", "cert_not_bound")] >= 1)
            await eventually(lambda: b.faults.dropped[("link", "cert_not_bound")] >= 1)
            a.broadcast(["c", b"through the relay"])
            b.broadcast(["c", b"through the relay"])
            await asyncio.sleep(0.5)
            assert inbox_a == [] and inbox_b == []
            assert not a.connected() and not b.connected()
            assert not a.stats.connected_in and not b.stats.connected_in
            for node in (a, b):  # TLS itself was fine on every hop
                assert not any(kind.startswith("tls_") for _, kind in node.faults.dropped)
        finally:
            await a.stop()
            await b.stop()
            relay_to_a.close()
            relay_to_b.close()

    asyncio.run(scenario())


def test_a_listener_that_goes_silent_is_cut_off_and_redialled():
    async def scenario():
        sessions: list = []
        hold = asyncio.Event()

        async def silent(reader, writer):  # handshakes, then neither reads nor writes
            writer.transport.pause_reading()
            sessions.append(writer)
            await hold.wait()

        server, port = await serve_as(KEYS[1], silent)
        node = network(0, {1: port}, heartbeat_s=BEAT, silence_s=SILENCE)
        await node.start("127.0.0.1", 0)
        try:
            await eventually(lambda: sessions)
            await eventually(lambda: node.faults.dropped[("link", "silent")] >= 1)
            await eventually(lambda: len(sessions) >= 2)  # redialled
            assert node.faults.dropped[("link", "silent")] <= len(sessions)
        finally:
            hold.set()
            await node.stop()
            for writer in sessions:
                writer.close()
            server.close()

    asyncio.run(scenario())


def test_a_dialer_that_goes_silent_is_closed():
    async def scenario():
        port = free_port()
        node = network(0, {1: free_port()}, heartbeat_s=BEAT, silence_s=SILENCE)
        await node.start("127.0.0.1", port)
        try:
            reader, writer = await dial_as(KEYS[1], port)
            await eventually(lambda: node.stats.connected_in)
            # it never sends again; the link is closed on it (it read only heartbeats)
            await asyncio.wait_for(reader.read(), 10)
            assert node.faults.dropped[("link", "silent")] >= 1
            assert not node.stats.connected_in
            writer.close()
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_a_malformed_heartbeat_is_garbage_charged_to_the_peer():
    async def scenario():
        port = free_port()
        inbox: list = []
        node = network(0, {1: free_port()}, inbox)
        await node.start("127.0.0.1", port)
        try:
            reader, writer = await dial_as(KEYS[1], port)
            body = encode(["h", -1])
            writer.write(struct.pack(">I", len(body)) + body)
            await writer.drain()
            await asyncio.wait_for(reader.read(), 10)  # closed on us
            peer = KEYS[1].public_key.hex()[:16]
            assert node.faults.by_peer[(peer, "garbage_frame")] == 1
            assert inbox == []
            writer.close()
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_a_heartbeat_flood_is_read_within_the_link_budget():
    async def scenario():
        port = free_port()
        node = network(0, {1: free_port()}, read_frames_per_s=500, read_frame_burst=1_000)
        await node.start("127.0.0.1", port)
        try:
            _reader, writer = await dial_as(KEYS[1], port)
            body = encode(["h", 5])
            writer.write((struct.pack(">I", len(body)) + body) * 20_000)
            await writer.drain()
            await eventually(lambda: node.faults.dropped[("link", "frame_rate")] >= 1)
            assert node.stats.frames_in < 20_000
            assert node.peer_tips()[KEYS[1].public_key] == 5
            writer.close()
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_a_listener_that_sends_more_than_heartbeats_is_garbage():
    async def scenario():
        sessions: list = []

        async def chatty(reader, writer):  # the return direction carries heartbeats only
            sessions.append(writer)
            body = encode(["c", b"not a heartbeat"])
            writer.write(struct.pack(">I", len(body)) + body)
            await writer.drain()
            await reader.read()

        server, port = await serve_as(KEYS[1], chatty)
        inbox: list = []
        node = network(0, {1: port}, inbox)
        await node.start("127.0.0.1", 0)
        try:
            peer = KEYS[1].public_key.hex()[:16]
            await eventually(lambda: node.faults.by_peer[(peer, "garbage_frame")] >= 1)
            assert inbox == []
            await asyncio.sleep(0.5)
            assert len(sessions) == 1  # redialled slowly (BACKOFF_MAX_S), not at once
        finally:
            await node.stop()
            server.close()

    asyncio.run(scenario())
