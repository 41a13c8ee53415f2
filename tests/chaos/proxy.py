"""A TCP proxy per directed validator link, so the harness can cut a node off.

Why a proxy and not firewall rules or network namespaces: both need root and
differ between Linux distributions and macOS; a proxy needs nothing but
loopback sockets, works inside any CI container and is deterministic enough
to run inside ``make test``. Validators dial the addresses in their
``config.json``, so the harness rewrites every peer address of node i to
``127.0.0.1:<proxy port of link i->j>`` before starting the nodes.

Links are one-way streams at the node level (each validator dials every other
one and sends on the connection it dialled, see ``node.links``), so the link
``i -> j`` carries everything i says to j. Cutting node k aborts every open
connection whose source or destination is k and refuses new ones until
``heal`` — to k that looks exactly like a dead network: connects succeed at
TCP level and are reset at once, as when a middlebox drops a flow.

The proxy runs on its own asyncio loop in a daemon thread so the (synchronous)
tests can call ``cut``/``heal`` from anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LinkProxy", "LoopThread"]

CHUNK_BYTES = 256 * 1024


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout_s: float | None = 60) -> Any:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Schedule ``coro`` on the loop; returns a ``concurrent.futures.Future``."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@dataclass
class _Link:
    src: int
    dst: int
    target: tuple[str, int]
    server: asyncio.base_events.Server | None = None
    port: int = 0
    streams: set[asyncio.StreamWriter] = field(default_factory=set)
    bytes_forwarded: int = 0


class LinkProxy:
    """Proxies for every directed link between ``n`` nodes; ``cut``/``heal`` per node."""

    def __init__(self, loop: LoopThread, host: str = "127.0.0.1") -> None:
        self._loop = loop
        self._host = host
        self._links: dict[tuple[int, int], _Link] = {}
        self._cut: set[int] = set()

    # -- synchronous API (any thread) -------------------------------------------

    def add_link(self, src: int, dst: int, target: tuple[str, int]) -> int:
        """Start proxying ``src -> dst`` to ``target``; returns the port ``src`` must dial."""
        return self._loop.run(self._add(src, dst, target))

    def cut(self, node: int) -> None:
        """Isolate ``node``: abort its links and refuse new ones until ``heal``."""
        self._loop.run(self._set_cut(node, True))

    def heal(self, node: int) -> None:
        self._loop.run(self._set_cut(node, False))

    def is_cut(self, node: int) -> bool:
        return node in self._cut

    def close(self) -> None:
        self._loop.run(self._close())

    def bytes_forwarded(self) -> int:
        return sum(link.bytes_forwarded for link in self._links.values())

    # -- on the loop ------------------------------------------------------------

    async def _add(self, src: int, dst: int, target: tuple[str, int]) -> int:
        link = _Link(src, dst, target)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(link, reader, writer)

        link.server = await asyncio.start_server(handle, self._host, 0)
        link.port = link.server.sockets[0].getsockname()[1]
        self._links[(src, dst)] = link
        return link.port

    def _blocked(self, link: _Link) -> bool:
        return link.src in self._cut or link.dst in self._cut

    async def _serve(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._blocked(link):
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*link.target)
        except OSError:  # the destination node is down: the dialler sees a reset
            writer.transport.abort()
            return
        if self._blocked(link):  # cut while we were connecting
            writer.transport.abort()
            up_writer.transport.abort()
            return
        link.streams.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pipe(link, reader, up_writer), self._pipe(link, up_reader, writer)
            )
        finally:
            link.streams.discard(writer)
            link.streams.discard(up_writer)
            writer.transport.abort()
            up_writer.transport.abort()

    @staticmethod
    async def _pipe(
        link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while chunk := await reader.read(CHUNK_BYTES):
                link.bytes_forwarded += len(chunk)
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()  # one side gone: tear the whole flow down

    async def _set_cut(self, node: int, cut: bool) -> None:
        if not cut:
            self._cut.discard(node)
            return
        self._cut.add(node)
        for link in self._links.values():
            if self._blocked(link):
                for stream in list(link.streams):
                    stream.transport.abort()

    async def _close(self) -> None:
        for link in self._links.values():
            if link.server is not None:
                link.server.close()
            for stream in list(link.streams):
                stream.transport.abort()
        for link in self._links.values():
            if link.server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(link.server.wait_closed(), 2)
