"""Hand-driven validator-link peers for the hostile link tests.

A hostile validator holds a real key and speaks the real handshake
(``node.links``), then misbehaves: sends garbage, or never reads. These
helpers do the handshake by hand, frame by frame, so a test controls every
byte after it. Nothing is mocked: real keys, real sockets on loopback.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable

from chain.codec import encode
from chain.crypto import Signer, get_suite
from node.links import LINK_VERSION, TAG_LINK, PeerNetwork, read_frame, write_frame

SUITE = get_suite("ed25519-sha256")
KEYS = [SUITE.signer_from_seed(bytes([i + 1]) * 32) for i in range(4)]
CHAIN = "jx"
GENESIS = b"\x01" * 32


class Refused(Exception):
    """The listener answered HELLO with a REFUSED frame."""


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def network(index: int, ports: dict[int, int], inbox: list | None = None, **kwargs) -> PeerNetwork:
    """A real ``PeerNetwork`` for ``KEYS[index]`` whose peers are the other ``ports``."""
    peers = {KEYS[i].public_key: ("127.0.0.1", port) for i, port in ports.items()}
    members = {KEYS[i].public_key for i in ports}
    sink = inbox if inbox is not None else []
    return PeerNetwork(
        SUITE,
        KEYS[index],
        CHAIN,
        GENESIS,
        peers,
        lambda key: key in members,
        lambda sender, value: sink.append((sender, value)),
        **kwargs,
    )


async def dial_as(
    signer: Signer, port: int, host: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Dial ``port`` and complete the dialer's side of the handshake as ``signer``."""
    reader, writer = await asyncio.open_connection(host, port)
    nonce_d = os.urandom(32)
    write_frame(writer, [LINK_VERSION, CHAIN, GENESIS, signer.public_key, nonce_d])
    await writer.drain()
    answer = await read_frame(reader, 4096)
    if isinstance(answer, list) and answer[:1] == ["refused"]:
        writer.close()
        raise Refused(str(answer[1:]))
    listener, nonce_l, _sig = answer
    transcript = encode(["dialer", nonce_d, nonce_l, signer.public_key, listener])
    write_frame(writer, [signer.sign(TAG_LINK, CHAIN, transcript)])
    await writer.drain()
    return reader, writer


async def serve_as(
    signer: Signer,
    then: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    rcvbuf: int | None = None,
) -> tuple[asyncio.base_events.Server, int]:
    """Listen on loopback, answer the handshake as ``signer``, then hand over to ``then``.

    ``rcvbuf`` shrinks the kernel's receive buffer, so a peer that never reads
    is found out after kilobytes rather than the megabytes loopback buffers.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = await read_frame(reader, 4096)
        _version, chain, _genesis, dialer, nonce_d = hello
        nonce_l = os.urandom(32)
        transcript = encode(["listener", nonce_d, nonce_l, dialer, signer.public_key])
        write_frame(writer, [signer.public_key, nonce_l, signer.sign(TAG_LINK, chain, transcript)])
        await writer.drain()
        await read_frame(reader, 4096)  # PROOF; we trust our own test dialers
        await then(reader, writer)

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(handle, sock=sock)
    return server, sock.getsockname()[1]


async def eventually(check: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
