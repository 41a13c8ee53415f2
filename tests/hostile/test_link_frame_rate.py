"""A validator that floods its link with small frames slows only itself (issue 13, finding 3).

The catch-up budget (``consensus.budget``) bounds what a flood of requests makes
us *send*; decoding and dropping them still cost ~30,000 frames a second per
flooding peer. Each inbound link therefore reads at most ``read_frames_per_s``
frames a second after a burst: beyond, the link waits before reading on, so TCP
pushes back on the flooder and its own frames queue up behind its flood.
"""

from __future__ import annotations

import asyncio
import struct
import time

from chain.codec import encode
from tests.hostile.linkpeer import KEYS, dial_as, eventually, free_port, network

RATE, BURST = 500, 1_000


def test_a_frame_flood_is_read_at_the_link_budget_and_counted():
    async def scenario() -> None:
        port = free_port()
        inbox: list = []
        node = network(0, {1: free_port()}, inbox, read_frames_per_s=RATE,
                       read_frame_burst=BURST)
        await node.start("127.0.0.1", port)
        try:
            _reader, writer = await dial_as(KEYS[1], port)
            body = encode(["t", []])
            frame = struct.pack(">I", len(body)) + body
            writer.write(frame * 20_000)  # ~200 KB: all in the socket buffers at once
            await writer.drain()
            started = time.monotonic()
            await eventually(lambda: len(inbox) >= BURST)
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - started
            assert len(inbox) <= BURST + RATE * (elapsed + 0.5), (len(inbox), elapsed)
            assert len(inbox) < 20_000
            assert node.faults.dropped[("link", "frame_rate")] >= 1
            writer.close()
        finally:
            await node.stop()

    asyncio.run(scenario())
