"""Finding 3 (issue 13), transport: a peer that never reads is disconnected, not buffered.

A hostile validator (real key) accepts our dial, completes the handshake and
then never reads a byte. We keep queueing 1 MiB frames for it — as an honest
node answering its catch-up requests with large blocks would. Before the fix
the send queue was bounded at 20,000 *frames*, so it could hold ~20 GB of
them: memory grew with every answer (172 MiB -> 1.5 GiB in 26 s on a devnet).
Now the queue is bounded in bytes, frames beyond are dropped and counted
against the peer, and the connection is closed when a drain misses its
deadline; the dial loop reconnects later.
"""

from __future__ import annotations

import asyncio

from tests.hostile.linkpeer import KEYS, eventually, network, serve_as

FRAME = b"x" * (1 << 20)
QUEUE_BYTES = 4 << 20
DRAIN_TIMEOUT_S = 0.5
SENDS = 60


def test_a_peer_that_never_reads_is_cut_off_with_bounded_memory():
    async def scenario() -> None:
        sessions: list[asyncio.StreamWriter] = []
        hold = asyncio.Event()

        async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.transport.pause_reading()  # not a byte more, ever
            sessions.append(writer)
            await hold.wait()

        server, port = await serve_as(KEYS[1], never_read, rcvbuf=64 * 1024)
        honest = network(
            0, {1: port}, queue_bytes=QUEUE_BYTES, drain_timeout_s=DRAIN_TIMEOUT_S
        )
        await honest.start("127.0.0.1", 0)
        peer = KEYS[1].public_key
        try:
            await eventually(lambda: sessions)
            most_queued = 0
            for _ in range(SENDS):
                honest.send(peer, ["c", FRAME])
                await asyncio.sleep(0.02)
                most_queued = max(most_queued, honest.peer_stats()[peer].queued_bytes)
            # the queue, plus what the transport holds: one write batch and one frame
            assert most_queued <= QUEUE_BYTES + 2 * len(FRAME) + 4096, most_queued
            faults = honest.faults
            await eventually(lambda: faults.dropped[("link", "slow_reader")] >= 1, timeout=15)
            assert faults.dropped[("link", "send_queue_full")] >= 1
            assert faults.by_peer[(peer.hex()[:16], "slow_reader")] >= 1
            assert faults.by_peer[(peer.hex()[:16], "send_queue_full")] >= 1
            assert honest.stats.dropped_out >= 1
            # cut off, then dialled again later: the dial loop is still alive
            await eventually(lambda: len(sessions) >= 2, timeout=15)
        finally:
            hold.set()
            await honest.stop()
            for writer in sessions:
                writer.close()
            server.close()

    asyncio.run(scenario())


def test_frames_for_a_peer_that_is_down_stay_bounded_in_bytes():
    async def scenario() -> None:
        honest = network(0, {1: 9}, queue_bytes=QUEUE_BYTES)  # port 9: nobody listens
        await honest.start("127.0.0.1", 0)
        peer = KEYS[1].public_key
        try:
            for _ in range(10):
                honest.broadcast(["c", FRAME])
            stats = honest.peer_stats()[peer]
            assert not stats.connected_out
            assert stats.queued_bytes <= QUEUE_BYTES
            assert stats.queued_frames == 3  # 4 MiB holds three frames of 1 MiB + header
            assert stats.dropped_frames == 7
            assert honest.faults.dropped[("link", "send_queue_full")] == 7
        finally:
            await honest.stop()

    asyncio.run(scenario())
