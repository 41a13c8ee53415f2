"""Process and storage figures for /metrics, read from the OS without a client library.

Process gauges use the names every Prometheus client library uses
(``process_resident_memory_bytes``, ``process_open_fds``, ``process_max_fds``,
``process_cpu_seconds_total``, ``process_start_time_seconds``), so the usual
dashboards and alerts work unchanged. On Linux they come from ``/proc/self``;
elsewhere from ``resource`` (RSS then is the peak, and open fds are counted in
``/dev/fd``).

Storage sizes walk the LevelDB directory (a few hundred files at most: tables
are 2 MiB or more), and the walk is cached for ``DIR_SIZE_CACHE_S``, so a
scrape every second costs one ``scandir`` every 10 s.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

__all__ = ["DirSize", "process_samples"]

DIR_SIZE_CACHE_S = 10.0
_START_TIME_S = time.time()
"""When this module was first imported: the node process's start, to a fraction of a second."""


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _open_fds() -> int:
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(directory))
        except OSError:
            continue
    return 0


def process_samples() -> list[tuple[str, str, str, float]]:
    """(name, type, help, value) of the process gauges and counters."""
    times = os.times()
    return [
        ("process_resident_memory_bytes", "gauge", "Resident memory.", _rss_bytes()),
        ("process_open_fds", "gauge", "Open file descriptors.", _open_fds()),
        (
            "process_max_fds",
            "gauge",
            "Soft limit on open file descriptors (RLIMIT_NOFILE).",
            resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        ),
        (
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time.",
            round(times.user + times.system, 3),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process (Unix seconds).",
            round(_START_TIME_S, 3),
        ),
    ]


class DirSize:
    """Bytes of the files under a directory, re-walked at most every ``DIR_SIZE_CACHE_S``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._at = float("-inf")
        self._bytes = 0

    def bytes(self) -> int:
        now = time.monotonic()
        if now - self._at >= DIR_SIZE_CACHE_S:
            self._at, self._bytes = now, _walk(self.path)
        return self._bytes


def _walk(path: Path) -> int:
    total = 0
    try:
        entries = list(os.scandir(path))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += _walk(Path(entry.path))
            else:
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue  # a table compacted away between scandir and stat
    return total
