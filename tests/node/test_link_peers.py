"""Links follow the dial set they are given, and stop even when a cancellation is lost."""

from __future__ import annotations

import asyncio
import contextlib

from node.links import PeerNetwork
from tests.node.test_links import GENESIS, KEYS, SUITE, eventually, free_port


def lone(index: int, members: set[bytes], inbox: list, peers: dict | None = None) -> PeerNetwork:
    return PeerNetwork(SUITE, KEYS[index], "jx", GENESIS, peers or {},
                       lambda key: key in members, lambda s, v: inbox.append((s, v)))


def test_a_peer_added_later_is_dialled_and_one_dropped_is_hung_up_on():
    async def scenario():
        ports = [free_port(), free_port()]
        members = {KEYS[0].public_key, KEYS[1].public_key}
        inbox0, inbox1 = [], []
        a, b = lone(0, members, inbox0), lone(1, members, inbox1)
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        try:
            await asyncio.sleep(0.2)
            assert not a.connected()  # nobody to dial yet
            a.set_peers({KEYS[1].public_key: ("127.0.0.1", ports[1]),
                         KEYS[0].public_key: ("127.0.0.1", ports[0])})  # ourselves: ignored
            await eventually(lambda: a.connected() == {KEYS[1].public_key})
            a.broadcast(["t", [b"x"]])
            await eventually(lambda: inbox1)
            a.set_peers({})
            await eventually(lambda: not a.connected())
            a.broadcast(["t", [b"y"]])
            a.send(KEYS[1].public_key, ["t", [b"z"]])
            await asyncio.sleep(0.3)
            assert inbox1 == [(KEYS[0].public_key, ["t", [b"x"]])]
            assert KEYS[1].public_key not in a.peer_stats()
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_a_changed_address_is_redialled():
    async def scenario():
        ports = [free_port(), free_port()]
        wrong = free_port()
        members = {KEYS[0].public_key, KEYS[1].public_key}
        inbox0, inbox1 = [], []
        a = lone(0, members, inbox0, {KEYS[1].public_key: ("127.0.0.1", wrong)})
        b = lone(1, members, inbox1)
        await a.start("127.0.0.1", ports[0])
        await b.start("127.0.0.1", ports[1])
        try:
            await asyncio.sleep(0.3)
            assert not a.connected()
            a.set_peers({KEYS[1].public_key: ("127.0.0.1", ports[1])})
            await eventually(lambda: a.connected() == {KEYS[1].public_key})
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_stop_ends_a_dial_loop_whose_cancellation_was_swallowed():
    """On Python 3.11 ``asyncio.wait_for`` can return (or raise another error) instead
    of raising CancelledError when the awaited connect finishes as it is cancelled: a
    whole devnet sent SIGTERM at once left nodes that logged "stopping" and never
    exited, ``stop`` awaiting a dial loop that had gone back to sleep."""

    async def scenario():
        members = {KEYS[0].public_key, KEYS[1].public_key}
        a = lone(0, members, [], {KEYS[1].public_key: ("127.0.0.1", free_port())})
        connecting = asyncio.Event()

        async def connect_swallowing_cancel(address):
            connecting.set()
            with contextlib.suppress(asyncio.CancelledError):  # the race: the connect
                await asyncio.sleep(3600)  # "completed" as it was cancelled
            raise OSError("connection refused")

        a._connect = connect_swallowing_cancel  # type: ignore[method-assign]
        await a.start("127.0.0.1", free_port())
        await asyncio.wait_for(connecting.wait(), 5)
        await asyncio.wait_for(a.stop(), 10)  # hung forever before the fix
        assert all(task.done() for task in a._dialers.values())

    asyncio.run(scenario())
