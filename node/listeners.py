"""Budgets for listening sockets: how many connections we hold, from whom, for how long.

Why: each accepted connection costs a file descriptor, and LevelDB needs
descriptors too. 1,100 idle TCP connections to a node at ``RLIMIT_NOFILE``
1024 made LevelDB fail with "Too many open files" inside a commit and the node
fail-stop (issue 13, finding 1): a client's fault became our fault. So every
listener holds a ``ConnectionBudget``, and the process reserves descriptors
for itself and for LevelDB before it counts any for clients.

The pieces, each usable alone:

* ``raise_fd_limit()`` — raise the soft ``RLIMIT_NOFILE`` to the hard limit
  at start (systemd's default soft limit is 1024, its hard limit far higher).
* ``connection_allowance()`` — how many connections all listeners together
  may hold: the fd limit less ``FD_RESERVE`` (our own files, links, WAL, log,
  outgoing sockets) less ``LEVELDB_MAX_OPEN_FILES`` (LevelDB's table cache;
  ``storage.store`` leaves plyvel's default of 1000). Below
  ``MIN_CONNECTIONS`` of room it falls back to a quarter of the limit and
  ``raise_fd_limit`` warns: such a node is under-provisioned whatever we do.
* ``ConnectionBudget(total, per_address, faults, source)`` — bookkeeping:
  ``admit(address) -> bool`` before serving a connection, ``release(address)``
  when it closes. A refusal is counted in ``faults`` as
  ``(source, "conn_cap_total")`` or ``(source, "conn_cap_address")``.
  Usable from any accept path (an ``asyncio.start_server`` callback: admit
  first, close the writer at once on False, release in ``finally``).
* ``guarded(factory, budget, first_byte_timeout_s)`` — wraps an asyncio
  protocol factory for ``loop.create_server`` (aiohttp's ``Server`` is one,
  so is ``lambda: asyncio.StreamReaderProtocol(...)``). A wrapped connection
  over budget is aborted before the inner protocol exists (no parser, no
  task); one that sends no byte within ``first_byte_timeout_s`` is closed
  (``conn_first_byte_timeout``); and when the total is full, a new
  connection evicts the oldest connection that has not sent a byte yet
  (``conn_evicted_silent``) from the address holding the most connections,
  provided that address holds more than the newcomer's — so a flood of idle
  connections from several addresses cannot lock an honest client out, the
  flooders cannot churn each other out, and a connection that is doing work
  is never evicted for a newcomer.
* ``guarded(..., tls=context)`` — the same with TLS: the connection is
  admitted (and its first-byte timer started) *before* the TLS handshake,
  so pending handshakes are within the budget like any connection; the
  inner protocol is made once TLS is up and sees only plaintext. A failed
  handshake is counted as ``(source, tls_*)`` (``node.tls.tls_fault_kind``:
  plaintext, a missing or foreign client certificate, an old TLS version).
* ``accepts_per_wakeup(total)`` — the ``backlog`` for ``loop.create_server``:
  asyncio accepts that many connections per wake-up before any reaches the
  budget, so the burst must fit in the spare descriptors too.
* ``install_accept_error_limiter(loop, faults)`` — ``accept()`` failing with
  EMFILE/ENFILE is logged at most once per ``ACCEPT_LOG_INTERVAL_S`` with a
  count, instead of once per attempt (a flood produced ~350,000 log lines a
  minute). It should not happen at all once the budget is below the fd limit.

All numbers are per process. Addresses are the peer's IP as a string.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection
from typing import Any

from node.faults import Faults
from node.tls import tls_fault_kind

__all__ = [
    "ACCEPT_LOG_INTERVAL_S",
    "FD_RESERVE",
    "LEVELDB_MAX_OPEN_FILES",
    "MIN_CONNECTIONS",
    "ConnectionBudget",
    "accepts_per_wakeup",
    "connection_allowance",
    "fd_limit",
    "guarded",
    "install_accept_error_limiter",
    "raise_fd_limit",
]

log = logging.getLogger("skillchain.listeners")

FD_RESERVE = 256
"""Descriptors kept for the process itself: imports, the log, the WAL, LevelDB's
own log/manifest/lock, validator links and their pending handshakes, outgoing
sockets. A running node uses ~40 of them; the rest is headroom."""
LEVELDB_MAX_OPEN_FILES = 1000
"""LevelDB's default ``max_open_files`` (``storage.store`` does not set it): its
table cache keeps up to this many SST files open as the database grows."""
MIN_CONNECTIONS = 64
"""Below this much room after the reserves the limit is too low to honour them."""
ACCEPT_LOG_INTERVAL_S = 10.0
_NO_LIMIT = 1 << 20
"""Soft limit used when the hard limit is unlimited (Linux caps at nr_open anyway)."""


def fd_limit() -> int:
    """The soft ``RLIMIT_NOFILE`` in force."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return _NO_LIMIT if soft == resource.RLIM_INFINITY else soft


def raise_fd_limit() -> int:
    """Raise the soft fd limit to the hard one; return the limit in force.

    Logs the outcome, and warns when even the raised limit cannot hold the
    reserves plus ``MIN_CONNECTIONS`` (the operator should raise the hard
    limit: ``LimitNOFILE=65536`` in a systemd unit, ``ulimit -n`` in a shell).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _NO_LIMIT if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # e.g. above the kernel's nr_open
            log.warning("cannot raise the fd limit from %d to %d: %s", soft, target, exc)
    limit = fd_limit()
    needed = FD_RESERVE + LEVELDB_MAX_OPEN_FILES + MIN_CONNECTIONS
    if limit < needed:
        log.warning(
            "fd limit %d is below the %d a node needs (%d reserved, %d for LevelDB, %d "
            "connections); serving at most %d connections; raise the hard RLIMIT_NOFILE",
            limit, needed, FD_RESERVE, LEVELDB_MAX_OPEN_FILES, MIN_CONNECTIONS,
            connection_allowance(limit),
        )
    else:
        log.info("fd limit %d: up to %d connections", limit, connection_allowance(limit))
    return limit


def connection_allowance(
    limit: int | None = None, reserve: int = FD_RESERVE + LEVELDB_MAX_OPEN_FILES
) -> int:
    """Connections all listeners together may hold under fd limit ``limit``."""
    limit = fd_limit() if limit is None else limit
    room = limit - reserve
    return room if room >= MIN_CONNECTIONS else max(8, limit // 4)


def accepts_per_wakeup(total: int) -> int:
    """The ``backlog`` to give ``loop.create_server`` for a listener of ``total`` connections.

    asyncio accepts up to ``backlog`` connections each time the socket is
    readable, and each holds a descriptor until the loop reaches its
    ``connection_made`` (where a budget may refuse it): with a backlog of 1024
    a flood opened 1024 descriptors at once and hit EMFILE under a 256 limit.
    A quarter of the listener's total, between 8 and 128, keeps that burst
    inside the room ``connection_allowance`` leaves (re-``listen`` the socket
    to give the kernel's own queue more room).
    """
    return max(8, min(128, total // 4))


class ConnectionBudget:
    """Open connections in total and per address, with caps; refusals counted.

    ``exempt`` addresses (e.g. trusted reverse proxies, which carry many
    clients) are held only to the total.
    """

    def __init__(
        self,
        total: int,
        per_address: int,
        faults: Faults,
        source: str,
        exempt: Collection[str] = (),
    ) -> None:
        self.total, self.per_address = total, per_address
        self.faults, self.source = faults, source
        self.exempt = frozenset(exempt)
        self.open = 0
        self._by_address: Counter[str] = Counter()
        self._silent: dict[str, OrderedDict[_Guard, None]] = {}
        """Wrapped connections that have not sent a byte yet, by address, oldest first."""

    def open_from(self, address: str) -> int:
        """Connections open from ``address`` now."""
        return self._by_address[address]

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``, or refuse (and count) it."""
        if address not in self.exempt and self._by_address[address] >= self.per_address:
            self.faults.drop(self.source, "conn_cap_address")
            return False
        if self.open >= self.total and not self._evict_silent(address):
            self.faults.drop(self.source, "conn_cap_total")
            return False
        self.open += 1
        self._by_address[address] += 1
        return True

    def release(self, address: str) -> None:
        """Forget one connection from ``address`` (it closed)."""
        self.open -= 1
        left = self._by_address[address] - 1
        if left > 0:
            self._by_address[address] = left
        else:
            del self._by_address[address]

    def _evict_silent(self, newcomer: str) -> bool:
        """Close the oldest silent connection of the address holding the most
        connections, if it holds more than ``newcomer``; False if none was closed."""
        if not self._silent:
            return False
        victim = max(self._silent, key=self._by_address.__getitem__)
        if self._by_address[victim] <= self._by_address[newcomer]:
            return False
        guard = next(iter(self._silent[victim]))
        guard.close("conn_evicted_silent")
        return True

    def _hold_silent(self, guard: _Guard, address: str) -> None:
        self._silent.setdefault(address, OrderedDict())[guard] = None

    def _forget_silent(self, guard: _Guard, address: str) -> None:
        silent = self._silent.get(address)
        if silent is not None:
            silent.pop(guard, None)
            if not silent:
                del self._silent[address]


def guarded(
    factory: Callable[[], asyncio.BaseProtocol],
    budget: ConnectionBudget,
    first_byte_timeout_s: float | None = None,
    tls: ssl.SSLContext | None = None,
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory serving ``factory``'s protocols within ``budget``.

    See the module docstring; pass the result to ``loop.create_server``
    (without its ``ssl``: ``tls`` here keeps the handshake inside the budget).
    """
    return lambda: _Guard(factory, budget, first_byte_timeout_s, tls)


class _Guard(asyncio.Protocol):
    """Admits the connection, then delegates every callback to the inner protocol."""

    def __init__(
        self,
        factory: Callable[[], asyncio.BaseProtocol],
        budget: ConnectionBudget,
        first_byte_timeout_s: float | None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._factory, self._budget, self._timeout_s = factory, budget, first_byte_timeout_s
        self._tls = tls
        self._inner: Any = None
        self._transport: asyncio.BaseTransport | None = None
        self._address: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._early: list[bytes] | None = None
        """Plaintext TLS delivered before ``start_tls`` returned (fed to the inner protocol)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._budget.admit(address):
            transport.abort()  # RST now: the descriptor is freed at once
            return
        self._address, self._transport = address, transport
        if self._timeout_s is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._timeout_s, self.close, "conn_first_byte_timeout")
            self._budget._hold_silent(self, address)
        if self._tls is not None:
            transport.pause_reading()  # type: ignore[attr-defined]  # no byte before TLS sees it
            self._early = []
            asyncio.get_running_loop().create_task(self._start_tls(transport, self._tls))
            return
        self._inner = self._factory()
        self._inner.connection_made(transport)

    async def _start_tls(self, raw: asyncio.BaseTransport, context: ssl.SSLContext) -> None:
        """The TLS handshake, within the first-byte timeout; then the inner protocol."""
        loop = asyncio.get_running_loop()
        try:
            wrapped = await loop.start_tls(
                raw, self, context, server_side=True,  # type: ignore[arg-type]
                ssl_handshake_timeout=self._timeout_s,
            )
        except ssl.SSLError as exc:
            self.close(tls_fault_kind(exc))
            return
        except (OSError, TimeoutError, asyncio.CancelledError):
            self.close("tls_handshake")
            return
        if wrapped is None or self._address is None:  # lost meanwhile (Python 3.11)
            self.close("tls_handshake")
            return
        self._transport = wrapped
        self._inner = self._factory()
        self._inner.connection_made(wrapped)
        early, self._early = self._early or [], None
        for data in early:
            self._inner.data_received(data)

    def close(self, kind: str) -> None:
        """Abort the connection now, counting ``kind``, and give back its place."""
        if self._transport is None or self._address is None:
            return
        self._budget.faults.drop(self._budget.source, kind)
        self._spoke()
        self._budget.release(self._address)
        self._address = None
        self._transport.abort()

    def _spoke(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            if self._address is not None:
                self._budget._forget_silent(self, self._address)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            self._spoke()
        if self._inner is not None:
            self._inner.data_received(data)
        elif self._early is not None and sum(map(len, self._early)) < 1 << 20:
            self._early.append(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._spoke()
        if self._address is not None:
            self._budget.release(self._address)
            self._address = None
        self._transport = None
        if self._inner is not None:
            self._inner.connection_lost(exc)
            self._inner = None


_ACCEPT_ERROR = "socket.accept() out of system resource"


def install_accept_error_limiter(
    loop: asyncio.AbstractEventLoop,
    faults: Faults | None = None,
    interval_s: float = ACCEPT_LOG_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Log asyncio's accept-failure reports at most once per ``interval_s``, with a count.

    Other exception reports go to the handler that was installed before (or
    the loop's default). Each failure is counted as ``("listener",
    "accept_error")`` in ``faults``. Installing twice on one loop is a no-op.
    """
    previous = loop.get_exception_handler()
    if getattr(previous, "_limits_accept_errors", False):
        return
    state = {"last": -interval_s, "suppressed": 0}

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != _ACCEPT_ERROR:
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        if faults is not None:
            faults.drop("listener", "accept_error")
        now = clock()
        if now - state["last"] < interval_s:
            state["suppressed"] += 1
            return
        log.error(
            "accept() failed: %s (%d more in the last %.0f s); connections wait in the backlog",
            context.get("exception"), state["suppressed"], interval_s,
        )
        state["last"], state["suppressed"] = now, 0

    handler._limits_accept_errors = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
