"""A scripted Byzantine validator over real links, and the network it attacks.

Theory of operation
-------------------
``ByzPeer`` holds the real validator key of one validator of a devnet whose
own node is *not* running, so the network runs with n-1 honest nodes (3 of
4: still a quorum). It listens on that validator's link address and dials the
honest nodes, speaking the real link handshake (``node.links``: HELLO /
CHALLENGE / PROOF over length-prefixed canonical msgpack, with
``read_frame``, ``write_frame`` and the handshake transcript imported from
there) and real, correctly signed consensus messages (``consensus.messages``,
``chain.types.sign_vote``). Honest nodes cannot tell it from the validator it
replaces until it misbehaves; everything it does wrong is signed with a key
inside the validator set (within f), which is the point of issue 13: one
dishonest bureau must not stop an honest validator.

Links are one-way (``node.links``): what the peer *sends* goes over the
connections it dials; what honest nodes send it (catch-up requests, votes)
arrives over the connections it accepts. Behaviours (one per process):

    passive          completes every handshake, reads and ignores everything
                     (the baseline: the same validator present, doing nothing)
    tamper_catchup   answers every CatchUpRequest with genuinely certified
                     blocks fetched from an honest node's RPC
                     (``GET /v1/blocks/{h}``, msgpack) in which one tx's
                     signature byte is flipped per block: a tx hash excludes
                     its signature, so the header, the tx root and the
                     certificate still match. It also pushes such answers,
                     unasked, to any honest node whose RPC shows it two or
                     more blocks behind the others (a catching-up node takes
                     an unsolicited certified batch), so the attack does not
                     depend on winning the race with the honest answers.
    amplify          sends signed CatchUpRequests alternating from_height 1
                     and 2 as fast as the victim's link takes them (or at
                     ``rate_per_s`` per victim, e.g. the ~200/s of the
                     issue's report), while
                     never reading the link the victim dialled to it
                     (``pause_reading`` after the handshake), so every answer
                     the victim builds waits in its send queue.
    evidence_flood   at each honest node's current height (and view, from its
                     ``/v1/status``), sends signed conflicting PREPARE and
                     COMMIT votes for every view from 0 to view + ``views``
                     (the replica's ``max_view_ahead``): two random block
                     hashes per (height, view, phase) slot.

The peer runs in its own OS process (``python -m tests.hostile.byzpeer``;
``ByzProcess`` starts and stops it), so its CPU use competes with the nodes'
as an attacker's would and does not slow the measuring client's event loop.
On SIGTERM it prints one line of JSON with what it did (frames, requests,
tampered answers, votes).

``ByzNet`` is the network: n validator processes on loopback
(``cli.netgen.new_network``), all started and loaded for a while so the chain
has blocks with txs, then the last validator's node is stopped and its key
handed to a ``ByzPeer``. It also measures what the tests and
``bench/bench_hostile.py`` need: RSS from ``/proc/<pid>/status``, commit
acknowledgements of a steady signed load (``steady_load``), ``/metrics``
fault counters, ``/v1/evidence`` entries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgpack

from chain.codec import decode
from chain.errors import DecodeError
from chain.genesis import load_genesis
from chain.types import Block, CommitCertificate, Phase, sign_vote
from cli.devnet import node_status, wait_ready
from cli.netgen import free_base_port, new_network
from consensus.messages import (
    MAX_BATCH_BLOCKS,
    MAX_MESSAGE_BYTES,
    CatchUpRequest,
    CatchUpResponse,
    CertifiedBlock,
    decode_message,
    encode_message,
    sign_message,
)
from node.client import TxBuilder
from node.config import load_config
from node.consensus_driver import CONSENSUS_CONFIG
from node.keys import load_key
from node.links import LINK_VERSION, TAG_LINK, _transcript, read_frame, write_frame
from tests.node.cluster import Cluster

__all__ = [
    "BEHAVIOURS",
    "ByzNet",
    "ByzPeer",
    "ByzProcess",
    "LoadResult",
    "Window",
    "evidence_cap",
    "evidence_entries",
    "peer_faults",
    "steady_load",
]

BEHAVIOURS = ("passive", "tamper_catchup", "amplify", "evidence_flood")
ADMIN = "jx-hrss"
REPO = Path(__file__).resolve().parents[2]
ANSWER_BYTES = MAX_MESSAGE_BYTES // 2
"""Blocks per forged catch-up answer stop here, as an honest answer's do."""
HANDSHAKE_S = 5.0
REDIAL_S = 0.05
"""The peer redials a lost link at once: it wants to be first to a restarted node."""
POLL_S = 0.2
AMPLIFY_CHUNK = 64
"""Requests written per ``drain``: a ~10 KB write, small enough to see back-pressure."""
DEFAULT_EVIDENCE_CAP = 1_024
"""The cap the tests assume when ``node/evidence.py`` names none (issue 13)."""


# -- the peer ------------------------------------------------------------------------



async def _heartbeats(writer: asyncio.StreamWriter) -> None:
    """``["h", 0]`` every second on a link, as ``node.links`` expects of a live peer."""
    while not writer.is_closing():
        write_frame(writer, ["h", 0])
        await asyncio.sleep(1.0)

class ByzPeer:
    """One Byzantine validator on real links; see the module docstring."""

    def __init__(
        self,
        home: Path,
        rpc_urls: list[str],
        behaviour: str,
        victims: set[bytes] | None = None,
        views: int | None = None,
        push_every_s: float = 0.25,
        rate_per_s: float | None = None,
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; known: {', '.join(BEHAVIOURS)}")
        genesis, self.genesis_hash = load_genesis(home / "genesis.json")
        self.suite, self.chain_id = genesis.suite, genesis.chain_id
        self.signer = load_key(home / "validator.key", genesis.crypto_suite)
        config = load_config(home)
        self.address = (config.p2p_host, config.p2p_port)
        self.peers = {bytes.fromhex(p.public_key): (p.host, p.port) for p in config.peers}
        self.victims = set(victims) if victims else set(self.peers)
        self.rpc_urls = rpc_urls
        self.behaviour = behaviour
        self.views = CONSENSUS_CONFIG.max_view_ahead if views is None else views
        self.push_every_s = push_every_s
        self.rate_per_s = rate_per_s
        """Amplification requests per second per victim; None: as fast as it reads."""
        self.stats: Counter[str] = Counter()
        self._out: dict[bytes, asyncio.StreamWriter] = {}
        self._held: list[asyncio.StreamWriter] = []
        self._accepted: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._answers: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None
        self._stopping = asyncio.Event()
        self._status: dict[bytes, dict[str, Any]] = {}
        self._blocks: dict[int, CertifiedBlock] = {}
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._server = await asyncio.start_server(
            self._accept, *self.address, reuse_address=True, limit=2**16
        )
        jobs = [self._dial_forever(key, address) for key, address in self.peers.items()]
        jobs.append(self._poll_status())
        if self.behaviour == "tamper_catchup":
            jobs += [self._prefetch(), self._push_tampered()]
        elif self.behaviour == "amplify":
            jobs += [self._amplify(key) for key in self.victims]
        elif self.behaviour == "evidence_flood":
            jobs.append(self._flood_evidence())
        self._tasks = [asyncio.create_task(job) for job in jobs]

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        tasks = [*self._tasks, *self._answers]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for writer in [*self._out.values(), *self._held, *self._accepted]:
            writer.close()
        # Handlers end on their own once their streams close; a cancelled one would be
        # logged by asyncio's stream callback as an error.
        handlers = [t for t in self._accepted.values() if t is not asyncio.current_task()]
        if handlers:
            await asyncio.wait(handlers, timeout=2)
        if self._session is not None:
            await self._session.close()

    # -- links ---------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An honest node's link to us: handshake as the listener, then by behaviour."""
        task = asyncio.current_task()
        if task is not None:
            self._accepted[writer] = task
        try:
            dialer = await asyncio.wait_for(self._listen_handshake(reader, writer), HANDSHAKE_S)
            if dialer is None:
                return
            self.stats["links_in"] += 1
            self._spawn(_heartbeats(writer))  # or honest dialers find the link silent
            if self.behaviour == "amplify" and dialer in self.victims:
                writer.transport.pause_reading()  # never a byte more: its answers pile up
                self._held.append(writer)
                self.stats["links_in_unread"] += 1
                await self._stopping.wait()
                return
            while True:
                self._on_frame(dialer, await read_frame(reader))
        except (DecodeError, OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._accepted.pop(writer, None)
            writer.close()

    async def _listen_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        hello = await read_frame(reader, 4096)
        if not (isinstance(hello, list) and len(hello) == 5):
            return None
        _version, _chain, _genesis, dialer, nonce_d = hello
        me, nonce_l = self.signer.public_key, os.urandom(32)
        challenge = _transcript("listener", nonce_d, nonce_l, dialer, me)
        write_frame(writer, [me, nonce_l, self.signer.sign(TAG_LINK, self.chain_id, challenge)])
        await writer.drain()
        proof = await read_frame(reader, 4096)
        payload = _transcript("dialer", nonce_d, nonce_l, dialer, me)
        ok = (
            isinstance(proof, list)
            and len(proof) == 1
            and isinstance(dialer, bytes)
            and isinstance(proof[0], bytes)
            and self.suite.verify(dialer, TAG_LINK, self.chain_id, payload, proof[0])
        )
        return dialer if ok else None

    async def _dial_forever(self, key: bytes, address: tuple[str, int]) -> None:
        """Keep a link to ``key`` for sending; redial at once when it drops."""
        while not self._stopping.is_set():
            try:
                reader, writer = await asyncio.open_connection(*address, limit=2**16)
            except OSError:
                await asyncio.sleep(REDIAL_S)
                continue
            try:
                await asyncio.wait_for(self._dial_handshake(reader, writer, key), HANDSHAKE_S)
                self._out[key] = writer
                self.stats["links_out"] += 1
                self._on_link_up(key)
                self._spawn(_heartbeats(writer))
                while await reader.read(65536):  # the listener writes only heartbeats
                    pass
            except (DecodeError, OSError, asyncio.IncompleteReadError, TimeoutError):
                pass
            finally:
                if self._out.get(key) is writer:
                    del self._out[key]
                writer.close()
            await asyncio.sleep(REDIAL_S)

    async def _dial_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: bytes
    ) -> None:
        me, nonce_d = self.signer.public_key, os.urandom(32)
        write_frame(writer, [LINK_VERSION, self.chain_id, self.genesis_hash, me, nonce_d])
        await writer.drain()
        answer = await read_frame(reader, 4096)
        if not (isinstance(answer, list) and len(answer) == 3):
            self.stats["refused_out"] += 1  # a REFUSED frame (e.g. we are penalised)
            await asyncio.sleep(0.5)
            raise DecodeError(f"link to {key.hex()[:12]} refused: {answer!r}"[:200])
        listener, nonce_l, _signature = answer
        proof = self.signer.sign(
            TAG_LINK, self.chain_id, _transcript("dialer", nonce_d, nonce_l, me, listener)
        )
        write_frame(writer, [proof])
        await writer.drain()

    def _on_link_up(self, key: bytes) -> None:
        """Tampering: a victim we know nothing of (just restarted) is offered blocks
        from height 1 at once, unasked; a node that has them ignores the answer."""
        if self.behaviour == "tamper_catchup" and key in self.victims and key not in self._status:
            self.stats["offers_on_link_up"] += 1
            self._spawn(self._answer_tampered(key, 1))

    def _spawn(self, job: Any) -> None:
        task = asyncio.create_task(job)
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    def _send(self, key: bytes, value: Any) -> asyncio.StreamWriter | None:
        """Write one frame to ``key`` if its link is up; the writer, for draining."""
        writer = self._out.get(key)
        if writer is None:
            return None
        write_frame(writer, value)
        self.stats["frames_out"] += 1
        return writer

    def _on_frame(self, sender: bytes, frame: Any) -> None:
        self.stats["frames_in"] += 1
        if not (isinstance(frame, list) and len(frame) == 2 and frame[0] == "c"):
            return
        try:
            message = decode_message(frame[1])
        except (DecodeError, TypeError):
            return
        if isinstance(message, CatchUpRequest):
            self.stats["catch_up_requests_in"] += 1
            if self.behaviour == "tamper_catchup":
                self._spawn(self._answer_tampered(sender, message.from_height))

    # -- what the honest nodes show over RPC ------------------------------------------

    async def _poll_status(self) -> None:
        """Each honest node's ``/v1/status``; a node that does not answer is unknown
        (down or restarting: when its link comes back it may need every block)."""
        assert self._session is not None
        key_of: dict[str, bytes] = {}
        while True:
            for url in self.rpc_urls:
                try:
                    async with self._session.get(url + "/v1/status") as answer:
                        status = await answer.json(content_type=None)
                    key_of[url] = bytes.fromhex(status["validator"])
                    self._status[key_of[url]] = status
                except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
                    if url in key_of:
                        self._status.pop(key_of[url], None)
            await asyncio.sleep(POLL_S)

    async def _prefetch(self) -> None:
        """Keep every committed block forged and ready, so an answer costs no RPC round
        trips: the first answer a restarted node gets is then likely ours."""
        while True:
            top = max((s.get("height", 0) for s in self._status.values()), default=0)
            for height in range(1, top + 1):
                if height not in self._blocks and await self._certified(height) is None:
                    break
            await asyncio.sleep(POLL_S)

    async def _certified(self, height: int) -> CertifiedBlock | None:
        """Block ``height`` with its certificate and one tx signature flipped (cached)."""
        if height in self._blocks:
            return self._blocks[height]
        assert self._session is not None
        for url in self.rpc_urls:
            try:
                async with self._session.get(
                    f"{url}/v1/blocks/{height}", headers={"Accept": "application/msgpack"}
                ) as answer:
                    if answer.status != 200:
                        continue
                    block_raw, cert_raw = msgpack.unpackb(await answer.read(), raw=False)
            except (aiohttp.ClientError, TimeoutError, ValueError, TypeError):
                continue
            if cert_raw is None:
                return None
            block = Block.from_wire(decode(block_raw))
            cert = CommitCertificate.from_wire(decode(cert_raw))
            self._blocks[height] = CertifiedBlock(tamper(block), cert)
            return self._blocks[height]
        return None

    # -- behaviours ----------------------------------------------------------------------

    async def _answer_tampered(self, peer: bytes, from_height: int) -> None:
        """A signed CatchUpResponse from ``from_height`` whose tx-carrying blocks are forged."""
        items: list[CertifiedBlock] = []
        size = 0
        for height in range(max(1, from_height), max(1, from_height) + MAX_BATCH_BLOCKS):
            item = await self._certified(height)
            if item is None:
                break
            size += len(item.block.encode())
            if items and size > ANSWER_BYTES:
                break
            items.append(item)
        if not any(item.block.txs for item in items):
            self.stats["answers_without_txs_skipped"] += 1
            return
        response = sign_message(self.signer, self.chain_id, CatchUpResponse(tuple(items), b"", b""))
        writer = self._send(peer, ["c", encode_message(response)])
        if writer is not None:
            self.stats["tampered_answers"] += 1
            self.stats["tampered_blocks"] += sum(bool(item.block.txs) for item in items)
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.drain(), 10)

    async def _push_tampered(self) -> None:
        """Unasked forged answers to honest nodes that are behind (catching up)."""
        while True:
            await asyncio.sleep(self.push_every_s)
            heights = {k: s.get("height", 0) for k, s in self._status.items() if k in self.peers}
            if not heights:
                continue
            top = max(heights.values())
            for key, height in heights.items():
                if key in self.victims and height <= top - 2 and key in self._out:
                    self.stats["pushes"] += 1
                    await self._answer_tampered(key, height + 1)

    async def _amplify(self, key: bytes) -> None:
        """CatchUpRequests from heights 1 and 2, alternating, as fast as ``key`` takes them."""
        frames = []
        for start in (1, 2):
            request = sign_message(self.signer, self.chain_id, CatchUpRequest(start, b"", b""))
            frames.append(["c", encode_message(request)])
        while True:
            writer = self._out.get(key)
            if writer is None:
                await asyncio.sleep(0.02)
                continue
            try:
                for i in range(AMPLIFY_CHUNK):
                    write_frame(writer, frames[i % 2])
                self.stats["amplify_requests"] += AMPLIFY_CHUNK
                await asyncio.wait_for(writer.drain(), 5)
                if self.rate_per_s:
                    await asyncio.sleep(AMPLIFY_CHUNK / self.rate_per_s)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.02)

    async def _flood_evidence(self) -> None:
        """Two conflicting votes for every view of every honest node's current height."""
        covered: dict[int, int] = {}  # height -> highest view already flooded
        while True:
            for height, view in sorted(self._slots()):
                top = view + self.views
                first = covered.get(height, -1) + 1
                if first > top:
                    continue
                covered[height] = top
                await self._send_conflicting_votes(height, range(first, top + 1))
            while len(covered) > 64:
                del covered[min(covered)]
            await asyncio.sleep(POLL_S / 2)

    def _slots(self) -> set[tuple[int, int]]:
        slots = set()
        for key, status in self._status.items():
            if key in self.victims and "consensus_height" in status:
                slots.add((int(status["consensus_height"]), int(status.get("view", 0))))
        return slots

    async def _send_conflicting_votes(self, height: int, views: range) -> None:
        frames = []
        for view in views:
            for phase in (Phase.PREPARE, Phase.COMMIT):
                for digest in (os.urandom(32), os.urandom(32)):
                    vote = sign_vote(self.signer, self.chain_id, phase, height, view, digest)
                    frames.append(["c", encode_message(vote)])
        for key in self.victims:
            writers = [self._send(key, frame) for frame in frames]
            self.stats["conflicting_votes"] += sum(w is not None for w in writers)
            writer = self._out.get(key)
            if writer is not None:
                with contextlib.suppress(OSError, TimeoutError):
                    await asyncio.wait_for(writer.drain(), 5)


def tamper(block: Block) -> Block:
    """``block`` with one bit of its first tx's signature flipped (header unchanged)."""
    if not block.txs:
        return block
    first = block.txs[0]
    signature = bytes([first.signature[0] ^ 0x01]) + first.signature[1:]
    forged = dataclasses.replace(first, signature=signature)
    return Block(block.header, (forged, *block.txs[1:]))


# -- the peer as a process --------------------------------------------------------------


class ByzProcess:
    """``python -m tests.hostile.byzpeer`` as a child process; ``stop`` returns its stats."""

    def __init__(
        self,
        home: Path,
        rpc_urls: list[str],
        behaviour: str,
        victims: list[bytes] | None = None,
        views: int | None = None,
        rate_per_s: float | None = None,
    ) -> None:
        self.home = home
        self.ready = home / "byzpeer.ready"
        self.ready.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "tests.hostile.byzpeer", "--home", str(home),
                "--behaviour", behaviour, "--ready-file", str(self.ready)]
        for url in rpc_urls:
            argv += ["--rpc", url]
        for key in victims or []:
            argv += ["--victim", key.hex()]
        if views is not None:
            argv += ["--views", str(views)]
        if rate_per_s is not None:
            argv += ["--rate", str(rate_per_s)]
        log = open(home / "byzpeer.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Byzantine peer did not start; see {home}/byzpeer.log")
            time.sleep(0.05)

    def stop(self) -> dict[str, int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate(timeout=10)
        self.exit_code = self.proc.returncode
        lines = out.decode(errors="replace").strip().splitlines()
        try:
            return json.loads(lines[-1]) if lines else {}
        except ValueError:
            return {}


async def _run_peer(peer: ByzPeer, ready: Path | None, seconds: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await peer.start()
    if ready is not None:
        ready.write_text("ready\n")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    print(json.dumps(dict(sorted(peer.stats.items()))), flush=True)  # before any slow cleanup
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(peer.stop(), 5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a scripted Byzantine validator (tests only)")
    parser.add_argument("--home", type=Path, required=True, help="the validator's home")
    parser.add_argument("--rpc", action="append", default=[], help="an honest node's RPC URL")
    parser.add_argument("--behaviour", choices=BEHAVIOURS, default="passive")
    parser.add_argument("--victim", action="append", default=[], help="a target key (hex)")
    parser.add_argument("--views", type=int, default=None)
    parser.add_argument("--rate", type=float, default=None, help="amplify: requests/s per victim")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--ready-file", type=Path, default=None)
    args = parser.parse_args(argv)
    victims = {bytes.fromhex(v) for v in args.victim}
    peer = ByzPeer(args.home, args.rpc, args.behaviour, victims, args.views, rate_per_s=args.rate)
    asyncio.run(_run_peer(peer, args.ready_file, args.seconds))


# -- reading the honest nodes -------------------------------------------------------------


def get_text(url: str, timeout_s: float = 5.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.read().decode(errors="replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None


_FAULT = re.compile(r'^skillchain_peer_faults_total\{peer="([0-9a-f]+)",kind="([^"]+)"\} (\d+)$')
_DROP = re.compile(r'^skillchain_dropped_total\{source="([^"]+)",kind="([^"]+)"\} (\d+)$')


def peer_faults(url: str, key: bytes) -> dict[str, int]:
    """``/metrics`` faults recorded against ``key``, by kind."""
    text = get_text(url + "/metrics") or ""
    label = key.hex()[:16]
    found: dict[str, int] = {}
    for line in text.splitlines():
        match = _FAULT.match(line)
        if match and match[1] == label:
            found[match[2]] = int(match[3])
    return found


def dropped(url: str) -> dict[str, int]:
    """``/metrics`` dropped inputs as ``source/kind -> count``."""
    text = get_text(url + "/metrics") or ""
    return {f"{m[1]}/{m[2]}": int(m[3]) for m in map(_DROP.match, text.splitlines()) if m}


def evidence_entries(url: str, max_pages: int = 1_000) -> list[dict[str, Any]] | None:
    """Every entry of ``/v1/evidence``, following a ``next`` cursor when the answer
    is paginated (a path, or a value passed back as ``?after=``); None if no answer."""
    entries: list[dict[str, Any]] = []
    path = "/v1/evidence"
    for _ in range(max_pages):
        text = get_text(url + path)
        if text is None:
            return entries or None
        answer = json.loads(text)
        page = answer.get("evidence", [])
        entries += page
        cursor = answer.get("next")
        if not cursor or not page:
            break
        cursor = str(cursor)
        path = cursor if cursor.startswith("/") else "/v1/evidence?" + urllib.parse.urlencode(
            {"after": cursor}
        )
    return entries


def evidence_cap() -> int:
    """The documented total cap on evidence entries (``node/evidence.py``), else 1,024."""
    try:
        module = importlib.import_module("node.evidence")
    except ImportError:
        return DEFAULT_EVIDENCE_CAP
    for name in ("MAX_EVIDENCE", "MAX_EVIDENCE_TOTAL", "MAX_TOTAL", "MAX_ENTRIES", "EVIDENCE_CAP"):
        value = getattr(module, name, None)
        if isinstance(value, int):
            return value
    totals = [v for k, v in vars(module).items() if k.isupper() and "TOTAL" in k]
    return next((v for v in totals if isinstance(v, int)), DEFAULT_EVIDENCE_CAP)


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` from ``/proc/<pid>/status`` (VmRSS), in MiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(match[1]) / 1024 if match else None


# -- load ---------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """A steady load's outcome: acks within the window (+ grace) count as commits."""

    submitted: int = 0
    acked_in_window: int = 0
    acked: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error_kinds: Counter[str] = field(default_factory=Counter)
    """Why submissions failed: the node's error code, ``http_<status>``, or the exception."""


async def steady_load(
    urls: list[str],
    builder: TxBuilder,
    head: int,
    rate_per_s: float,
    seconds: float,
    grace_s: float = 5.0,
    wait: bool = True,
    tag: str = "load",
) -> LoadResult:
    """Signed ``registry.suspend_actor`` txs at ``rate_per_s`` for ``seconds``, round-robin
    over ``urls``; with ``wait`` each is ``?wait=commit`` and counts when ``committed``
    arrives before ``seconds + grace_s`` (late acks are counted in ``acked`` only)."""
    result = LoadResult()
    timeout = aiohttp.ClientTimeout(total=35)
    started = time.monotonic()
    end = started + seconds + grace_s
    path = "/v1/txs?wait=commit" if wait else "/v1/txs"

    async def one(session: aiohttp.ClientSession, url: str, body: bytes) -> None:
        sent = time.monotonic()
        why = ""
        try:
            async with session.post(
                url + path, data=body, headers={"Content-Type": "application/msgpack"}
            ) as answer:
                text = await answer.read()
                if answer.status >= 300:
                    why = _error_code(text, answer.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = type(exc).__name__
        now = time.monotonic()
        if why:
            result.errors += 1
            result.error_kinds[why] += 1
            return
        result.acked += 1
        result.latencies_ms.append((now - sent) * 1000)
        result.acked_in_window += now <= end

    salt = random.randrange(1 << 30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = []
        while time.monotonic() - started < seconds:
            due = int((time.monotonic() - started) * rate_per_s) + 1
            while result.submitted < due:
                n = result.submitted
                tx = builder.build("registry.suspend_actor", [f"{tag}-{salt}-{n}", "t"], head)
                url = urls[n % len(urls)]
                tasks.append(asyncio.create_task(one(session, url, tx.encode())))
                result.submitted += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
    return result


@dataclass
class Window:
    """One measured stretch: the load's outcome, honest RSS (MiB) and heights."""

    load: LoadResult
    rss_start: dict[int, float]
    rss_max: dict[int, float]
    heights_advanced: int

    @property
    def rss_growth_mib(self) -> float:
        """The largest growth of any honest node over its RSS at the window's start."""
        growth = [self.rss_max[i] - self.rss_start[i] for i in self.rss_start if i in self.rss_max]
        return round(max(growth, default=0.0), 1)


async def _sample_rss(pids: dict[int, int], seconds: float, every_s: float = 0.25) -> dict:
    highest: dict[int, float] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for i, pid in pids.items():
            value = rss_mib(pid)
            if value is not None:
                highest[i] = max(highest.get(i, 0.0), value)
        await asyncio.sleep(every_s)
    return highest


def _error_code(body: bytes, status: int) -> str:
    try:
        return str(json.loads(body)["code"])
    except (ValueError, KeyError, TypeError):
        return f"http_{status}"


# -- the network ----------------------------------------------------------------------------


class ByzNet:
    """n validators on loopback; the last one's node is replaced by a ``ByzPeer``."""

    def __init__(self, tmp: Path, validators: int = 4, config: dict | None = None,
                 consensus: dict[str, int] | None = None) -> None:
        network = new_network(tmp / "net", validators, base_port=free_base_port(validators),
                              consensus=consensus)
        for home in network.homes:
            path = home / "config.json"
            path.write_text(json.dumps({**json.loads(path.read_text()), **(config or {})}))
        self.root = tmp / "net"
        self.cluster = Cluster(self.root, network.homes, [None] * validators)
        genesis, _ = load_genesis(self.root / "genesis.json")
        self.suite = genesis.suite
        self.keys = [
            load_key(h / "validator.key", genesis.crypto_suite).public_key for h in network.homes
        ]
        self.byz_index = validators - 1
        self.honest = list(range(validators - 1))

    @property
    def urls(self) -> list[str]:
        return self.cluster.urls

    @property
    def honest_urls(self) -> list[str]:
        return [self.urls[i] for i in self.honest]

    @property
    def byz_key(self) -> bytes:
        return self.keys[self.byz_index]

    def start(self, prefill_height: int = 40, prefill_rate_per_s: float = 100) -> None:
        """All n nodes up, loaded until ``prefill_height`` (blocks with txs); then the
        last node stops for good and its key is free for a ``ByzPeer``."""
        for i in range(len(self.keys)):
            self.cluster.start(i)
        wait_ready(self.urls)
        deadline = time.monotonic() + 120
        while self.head() < prefill_height and time.monotonic() < deadline:
            asyncio.run(
                steady_load(self.urls, self.builder(), self.head(), prefill_rate_per_s, 3.0,
                            wait=False, tag="prefill")
            )
        self.cluster.kill(self.byz_index, signal.SIGTERM)

    def builder(self) -> TxBuilder:
        return self.cluster.builder(ADMIN)

    def head(self, nodes: list[int] | None = None) -> int:
        heights = self.cluster.heights()
        chosen = range(len(heights)) if nodes is None else nodes
        return max((heights[i] or 0) for i in chosen)

    def byzantine(
        self,
        behaviour: str,
        victims: list[int] | None = None,
        views: int | None = None,
        rate_per_s: float | None = None,
    ) -> ByzProcess:
        keys = [self.keys[i] for i in victims] if victims else None
        home = self.cluster.homes[self.byz_index]
        return ByzProcess(home, self.honest_urls, behaviour, keys, views, rate_per_s)

    def window(self, seconds: float, rate_per_s: float, grace_s: float = 5.0) -> Window:
        """A steady signed load on the honest nodes for ``seconds``, sampling their RSS."""
        pids = {i: self.pid(i) for i in self.honest if self.alive(i)}
        start = {i: v for i, pid in pids.items() if (v := rss_mib(pid)) is not None}
        head = self.head(self.honest)

        async def both() -> tuple[LoadResult, dict[int, float]]:
            load = steady_load(self.honest_urls, self.builder(), head, rate_per_s, seconds, grace_s)
            return await asyncio.gather(load, _sample_rss(pids, seconds + grace_s))

        load, highest = asyncio.run(both())
        return Window(load, start, highest, self.head(self.honest) - head)

    def alive(self, i: int) -> bool:
        proc = self.cluster.procs[i]
        return proc is not None and proc.poll() is None

    def exit_code(self, i: int) -> int | None:
        proc = self.cluster.procs[i]
        return None if proc is None else proc.poll()

    def pid(self, i: int) -> int:
        proc = self.cluster.procs[i]
        if proc is None:
            raise RuntimeError(f"node {i} is not running")
        return proc.pid

    def wipe_and_restart(self, i: int) -> None:
        """SIGKILL node ``i``, delete its database (its consensus.wal stays), start it."""
        self.cluster.kill(i)
        shutil.rmtree(self.cluster.homes[i] / "data", ignore_errors=True)
        self.cluster.start(i)

    def restart(self, i: int, grace_s: float = 15.0) -> None:
        """SIGTERM node ``i`` (SIGKILL after ``grace_s``) and start it again."""
        proc = self.cluster.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.cluster.procs[i] = None
        self.cluster.start(i)
        wait_ready([self.urls[i]])

    def advancing(self, blocks: int = 2, timeout_s: float = 30.0) -> bool:
        """Whether every honest node commits ``blocks`` more blocks within ``timeout_s``."""
        try:
            self.cluster.wait_height(self.head(self.honest) + blocks, self.honest, timeout_s)
        except AssertionError:
            return False
        return True

    def settle(self, timeout_s: float = 30.0) -> bool:
        """Leave the honest nodes committing for the next measurement; when an attack
        left them stuck (a backlog of its requests, before the fixes), restart them
        (SIGKILL, WAL and store kept). True when no restart was needed."""
        if self.advancing(timeout_s=timeout_s):
            return True
        for i in self.honest:
            self.cluster.kill(i)
        for i in self.honest:
            self.cluster.start(i)
        wait_ready(self.honest_urls)
        self.advancing(timeout_s=60)
        return False

    def ensure_running(self, i: int) -> None:
        """Bring node ``i`` back (rebuilt from peers) if an attack stopped it."""
        if not self.alive(i):
            self.wipe_and_restart(i)
            wait_ready([self.urls[i]])

    def log_tail(self, i: int, lines: int = 30) -> str:
        return "\n".join(self.cluster.log(i).splitlines()[-lines:])

    def tracebacks(self) -> int:
        return sum(self.cluster.log(i).count("Traceback") for i in range(len(self.keys)))

    def status(self, i: int) -> dict[str, Any] | None:
        return node_status(self.urls[i])

    def close(self) -> None:
        procs = [p for p in self.cluster.procs if p is not None and p.poll() is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.cluster.procs = [None] * len(self.keys)


if __name__ == "__main__":
    main()
