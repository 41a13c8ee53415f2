"""Finding 3 (issue 13), link side: garbage from an authenticated validator costs it.

A hostile validator completes a real handshake and then sends frames our
decoder refuses: a length beyond ``MAX_FRAME_BYTES`` or non-canonical
msgpack. The link was already closed on it; now the garbage is counted
against its key (``faults``: source ``link``, kind ``garbage_frame``) and its
reconnects are refused for an interval that doubles with every offence, so a
peer cannot make us decode garbage at the rate it can reconnect.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.hostile.linkpeer import KEYS, Refused, dial_as, eventually, free_port, network

PENALTY_BASE_S = 0.4
OVERSIZED = b"\x7f\xff\xff\xff"  # a 2 GiB frame announced
NON_CANONICAL = b"\x00\x00\x00\x02\xd0\x01"  # int8 for 1, which canonical msgpack writes as 0x01


async def _send_garbage(port: int, garbage: bytes) -> None:
    reader, writer = await dial_as(KEYS[1], port)
    writer.write(garbage)
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed on us
    writer.close()


async def _refused(port: int) -> bool:
    try:
        _reader, writer = await dial_as(KEYS[1], port)
    except Refused:
        return True
    writer.close()
    return False


@pytest.mark.parametrize("garbage", [OVERSIZED, NON_CANONICAL], ids=["oversized", "non_canonical"])
def test_garbage_is_counted_against_the_peer_and_its_reconnects_wait(garbage):
    async def scenario() -> None:
        port = free_port()
        inbox: list = []
        node = network(0, {1: free_port()}, inbox, penalty_base_s=PENALTY_BASE_S)
        await node.start("127.0.0.1", port)
        peer = KEYS[1].public_key
        loop = asyncio.get_running_loop()
        try:
            await _send_garbage(port, garbage)
            await eventually(lambda: node.faults.dropped[("link", "garbage_frame")] == 1)
            assert node.faults.by_peer[(peer.hex()[:16], "garbage_frame")] == 1
            assert await _refused(port)  # penalised: refused at once
            assert node.peer_stats()[peer].garbage == 1
            await asyncio.sleep(PENALTY_BASE_S + 0.2)
            assert not await _refused(port)  # served its time

            await _send_garbage(port, garbage)  # again: twice as long now
            second = loop.time()
            await eventually(lambda: node.faults.dropped[("link", "garbage_frame")] == 2)
            await asyncio.sleep(PENALTY_BASE_S + 0.1)
            if loop.time() - second < 2 * PENALTY_BASE_S - 0.1:  # unless the machine stalled
                assert await _refused(port)
            await asyncio.sleep(2 * PENALTY_BASE_S)
            assert not await _refused(port)
            assert inbox == []
            assert node.faults.dropped[("link", "penalised")] >= 1
        finally:
            await node.stop()

    asyncio.run(scenario())
