"""Named crash points: the node kills itself at a chosen place (tests only).

``SKILLCHAIN_CRASH_AT="<point>[:<n>]"`` makes the process SIGKILL itself the
n-th time (default: the first) it reaches ``<point>``, so a test can prove
recovery from exactly the instant that matters — between signing and
syncing, between syncing and sending, in the middle of applying a block —
instead of hoping a random kill lands there. Unset (production), ``hit`` is
one dictionary lookup.

Points, in the order a height passes them::

    before_vote_send    a vote is about to leave (after its WAL record was appended)
    before_wal_sync     WAL records appended, not yet fsynced
    after_wal_sync      fsynced, messages not yet sent
    before_apply        a decided block is about to be executed and stored
    before_block_write  executed; the height's LevelDB batch not yet written
    after_block_write   the batch is durable; nobody has been told yet
    after_apply         stored and announced to RPC waiters; replica not yet told
"""

from __future__ import annotations

import os
import signal

__all__ = ["POINTS", "hit"]

ENV = "SKILLCHAIN_CRASH_AT"
POINTS = (
    "before_vote_send",
    "before_wal_sync",
    "after_wal_sync",
    "before_apply",
    "before_block_write",
    "after_block_write",
    "after_apply",
)


def _parse(spec: str) -> tuple[str, int] | None:
    if not spec:
        return None
    name, _, count = spec.partition(":")
    if name not in POINTS:
        raise SystemExit(f"{ENV}={spec!r}: unknown point; known: {', '.join(POINTS)}")
    return name, int(count or 1)


_TARGET = _parse(os.environ.get(ENV, ""))
_hits: dict[str, int] = {}


def hit(point: str) -> None:
    """Die here by SIGKILL if this is the configured point and count."""
    if _TARGET is None or _TARGET[0] != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
