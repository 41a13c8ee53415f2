"""What an operator sees of a running node: INFO logs, readiness, the extra /metrics.

The consensus code logs only what goes wrong; this module reports the
ordinary life of a node at INFO, at a bounded rate, by watching it from the
outside (the runtime calls it; nothing here changes what the node does):

* **peers**: a validator linked in both directions, or no longer (polled every
  ``POLL_S``; at most ``PEER_LINES_PER_MIN`` lines a minute, the rest counted
  into the next line, so a flapping link cannot fill the disk);
* **view changes**: checked after every tick (one integer comparison);
* **catch-up**: start and end (``node.health.CatchUpWatch``);
* **commits**, sampled: one line per ``COMMIT_LOG_EVERY_S`` at most, with the
  head, the blocks and txs since the last line and the last block's txs and
  commit time (execute + one synced write).

Every line names heights, counts, bureau names and key prefixes: no tx
content, no trainee, no client address.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from node.health import CatchUpWatch, PeerTips, Readiness
from node.metrics import family
from node.procstats import DirSize, process_samples
from node.version import build_info

__all__ = ["COMMIT_LOG_EVERY_S", "Operations", "OpsHost"]

log = logging.getLogger("skillchain.node")

POLL_S = 1.0
COMMIT_LOG_EVERY_S = 10.0
PEER_LINES_PER_MIN = 12


class OpsHost(Protocol):
    """What ``Operations`` reads from the node (``node.runtime.Node``)."""

    def readiness_now(self) -> Readiness: ...
    def linked_validators(self) -> set[bytes]: ...
    def validator_names(self) -> dict[bytes, str]: ...
    def view_state(self) -> tuple[int, int, int]: ...
    def wal_bytes(self) -> int: ...
    def last_block_time(self) -> int: ...


@dataclass
class _Commits:
    """Commits since the last sampled line."""

    blocks: int = 0
    txs: int = 0
    logged_at: float = float("-inf")


def _peer_name(key: bytes, names: dict[bytes, str]) -> str:
    name = names.get(key)
    return f"{name} ({key.hex()[:12]})" if name else key.hex()[:12]


class Operations:
    """The runtime's observer: see the module docstring."""

    def __init__(self, host: OpsHost, tips: PeerTips, data_dir: Any) -> None:
        self.host = host
        self.tips = tips
        self.catch_up = CatchUpWatch()
        self._store_size = DirSize(data_dir)
        self._linked: set[bytes] = set()
        self._view_changes = host.view_state()[2]
        self._commits = _Commits()
        self._peer_lines: list[float] = []
        self._peer_suppressed = 0
        self.last_commit_wall: float | None = None
        self.last_commit_mono: float | None = None

    # -- events ------------------------------------------------------------------

    def on_commit(self, height: int, txs: int, commit_ms: float) -> None:
        """After each committed height (``Node.commit_block``)."""
        now = time.monotonic()
        self.last_commit_wall, self.last_commit_mono = time.time(), now
        self.catch_up.on_commit()
        commits = self._commits
        commits.blocks += 1
        commits.txs += txs
        if now - commits.logged_at >= COMMIT_LOG_EVERY_S:
            span = now - commits.logged_at
            since = f" in the last {span:.0f} s" if span != float("inf") else ""
            log.info(
                "committed height %d: %d blocks, %d txs%s (last block %d txs, %.0f ms)",
                height, commits.blocks, commits.txs, since, txs, commit_ms,
            )
            self._commits = _Commits(logged_at=now)
        self._check_catch_up(now)

    def after_tick(self) -> None:
        """Log view changes (the driver counts them; we compare a number)."""
        height, view, changes = self.host.view_state()
        if changes != self._view_changes:
            log.info(
                "view change: %d since start; now at height %d, view %d", changes, height, view
            )
            self._view_changes = changes

    def poll(self) -> None:
        """Every ``POLL_S``: links up and down, catch-up."""
        self._check_links()
        self._check_catch_up(time.monotonic())

    def _check_catch_up(self, now: float) -> None:
        readiness = self.host.readiness_now()
        event = self.catch_up.update(readiness, now)
        state = self.catch_up.state
        if event == "started":
            log.info(
                "catch-up started at height %d: the validators' tip is %d (%d blocks behind)",
                readiness.height, readiness.known_tip, readiness.behind_blocks,
            )
        elif event == "finished":
            log.info(
                "catch-up finished at height %d: %d blocks in %.1f s",
                readiness.height, readiness.height - state.started_height, now - state.started_at,
            )

    def _check_links(self) -> None:
        linked = self.host.linked_validators()
        up, down = linked - self._linked, self._linked - linked
        self._linked = linked
        if not (up or down):
            return
        now = time.monotonic()
        self._peer_lines = [t for t in self._peer_lines if now - t < 60]
        if len(self._peer_lines) >= PEER_LINES_PER_MIN:
            self._peer_suppressed += len(up) + len(down)
            return
        self._peer_lines.append(now)
        names = self.host.validator_names()
        parts = [f"up {_peer_name(k, names)}" for k in sorted(up)]
        parts += [f"down {_peer_name(k, names)}" for k in sorted(down)]
        readiness = self.host.readiness_now()
        suppressed = self._peer_suppressed
        self._peer_suppressed = 0
        log.info(
            "links: %s; %d of %d validators reachable (quorum %d)%s",
            ", ".join(parts), readiness.validators_connected, readiness.validators,
            readiness.quorum,
            f" ({suppressed} link changes not logged in the last minute)" if suppressed else "",
        )

    # -- reads --------------------------------------------------------------------

    def status_fields(self) -> dict[str, Any]:
        """Fields added to /v1/status."""
        block_time = self.host.last_block_time()
        age = None if self.last_commit_mono is None else time.monotonic() - self.last_commit_mono
        readiness = self.host.readiness_now()
        return {
            "version": build_info()["version"],
            "build": build_info(),
            "last_block_height": readiness.height,
            "last_block_time": block_time,
            "last_block_time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(block_time)),
            "last_commit_age_s": None if age is None else round(age, 3),
            "ready": readiness.ready,
            "known_tip": readiness.known_tip,
            "validators_connected": readiness.validators_connected,
            "catching_up": self.catch_up.state.in_progress,
        }

    def metric_lines(self) -> list[str]:
        """The operations families of /metrics (build, readiness, peers, catch-up,
        storage, process)."""
        readiness = self.host.readiness_now()
        names = self.host.validator_names()
        linked = self.host.linked_validators()
        state = self.catch_up.state
        lines = family(
            "skillchain_build_info", "gauge", "This build (value always 1).",
            [({k: str(v) for k, v in build_info().items()}, 1)],
        )
        for name, kind, help_text, value in (
            ("skillchain_ready", "gauge", "1 when synced and connected to a quorum (/ready).",
             int(readiness.ready)),
            ("skillchain_known_tip_height", "gauge",
             "Highest height at least f+1 validators (us included) are known to have.",
             readiness.known_tip),
            ("skillchain_validators", "gauge", "Validators in the set in force.",
             readiness.validators),
            ("skillchain_quorum", "gauge", "Validators needed for a quorum.", readiness.quorum),
            ("skillchain_validators_connected", "gauge",
             "Validators linked both ways, this node included.", readiness.validators_connected),
            ("skillchain_catch_up_in_progress", "gauge", "1 while catching up.",
             int(state.in_progress)),
            ("skillchain_catch_ups_total", "counter", "Catch-ups started.", state.catch_ups),
            ("skillchain_catch_up_blocks_total", "counter",
             "Blocks committed while catching up.", state.blocks_fetched),
            ("skillchain_last_block_timestamp_seconds", "gauge",
             "Time of the head block (its primary's clock, Unix seconds).",
             self.host.last_block_time()),
            ("skillchain_last_commit_timestamp_seconds", "gauge",
             "When this node last committed a block (its clock, Unix seconds; 0: not yet).",
             round(self.last_commit_wall or 0, 3)),
            ("skillchain_store_bytes", "gauge", "Bytes of the LevelDB directory (cached 10 s).",
             self._store_size.bytes()),
            ("skillchain_wal_bytes", "gauge", "Bytes of the consensus write-ahead log.",
             self.host.wal_bytes()),
        ):
            lines += family(name, kind, help_text, [({}, value)])
        peers = sorted(names)
        lines += family(
            "skillchain_peer_connected", "gauge", "Each validator: 1 when linked both ways.",
            [({"peer": k.hex()[:16], "name": names[k]}, int(k in linked)) for k in peers],
        )
        lines += family(
            "skillchain_peer_height", "gauge",
            "Each validator's head as its messages imply (-1: not heard from).",
            [({"peer": k.hex()[:16]}, _or(self.tips.head_of(k), -1)) for k in peers],
        )
        for name, kind, help_text, value in process_samples():
            lines += family(name, kind, help_text, [({}, value)])
        return lines


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
