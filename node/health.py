"""Is this node alive, synced and connected? What /health, /ready and catch-up logs say.

* **Alive** (``/health``): the process serves HTTP. Nothing else is checked,
  so a supervisor restarts only a node that is really stuck.
* **Ready** (``/ready``): the node may be sent txs and trusted for reads of
  the head. Two conditions, both required:

  - *synced*: our head is at most ``READY_LAG_BLOCKS`` below the peers' known
    tip. The known tip is the ``f+1``-th highest of the heads our own head and
    the validators' messages imply (``PeerTips``): at least one honest
    validator is there, so up to ``f`` liars claiming a far height cannot make
    an honest node unready, and a tip claimed by fewer than ``f+1`` is not
    believed. A healthy replica is at most one height behind its peers (it may
    still be applying the block they just committed), so a lag of 2 blocks
    means "catching up", not "a little slow".
  - *connected to a quorum*: we (if a validator) plus the validators we hold a
    link to in both directions are at least the quorum ``floor(2n/3)+1`` of
    the set in force. Below it this node can neither commit nor learn that
    it fell behind.

  Each check is a few comparisons over at most one entry per validator: cheap
  enough for every probe, and under the RPC's request budgets like any route.

Catch-up (``CatchUpWatch``) is the same comparison over time: it starts when
the head falls more than ``READY_LAG_BLOCKS`` below the known tip and ends
when it is back within it; the blocks committed meanwhile are the blocks
fetched. Logged at INFO at both ends, and in /metrics.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["READY_LAG_BLOCKS", "CatchUpWatch", "PeerTips", "Readiness", "assess"]

READY_LAG_BLOCKS = 2
MAX_TRACKED_PEERS = 256
"""Keys whose claims are kept: only authenticated validators send consensus frames,
and a set has at most a few dozen; bounded all the same."""


class PeerTips:
    """The highest committed height each validator's messages imply.

    A message for height ``h`` (a proposal, vote, view change, catch-up
    request from ``h``) means its sender works on ``h``, so it has committed
    ``h-1``; a catch-up answer holding block ``m`` means its sender has ``m``.
    Claims only grow; the links' peer key is the claimant (the frame came on
    its authenticated link). Fed by the consensus driver for every decoded
    consensus frame (one attribute read and a dict store), and by anything
    else that learns a peer's head (``note_head``).
    """

    def __init__(self) -> None:
        self._heads: dict[bytes, int] = {}

    def note_head(self, peer: bytes, head: int) -> None:
        if head > self._heads.get(peer, -1):
            if peer not in self._heads and len(self._heads) >= MAX_TRACKED_PEERS:
                self._heads.pop(min(self._heads, key=self._heads.__getitem__))
            self._heads[peer] = head

    def note_message(self, peer: bytes, message: object) -> None:
        """What a decoded consensus message says about its sender's head."""
        height = getattr(message, "height", None)
        if height is None:
            height = getattr(message, "from_height", None)
        if isinstance(height, int):
            self.note_head(peer, height - 1)
            return
        blocks = getattr(message, "blocks", None)  # a catch-up answer
        if blocks:
            self.note_head(peer, max(item.block.header.height for item in blocks))

    def head_of(self, peer: bytes) -> int | None:
        return self._heads.get(peer)

    def known_tip(self, own_head: int, validators: Collection[bytes], me: bytes, f: int) -> int:
        """The ``f+1``-th highest of our head and the validators' claimed heads."""
        claims = [own_head] + [h for k, h in self._heads.items() if k in validators and k != me]
        claims.sort(reverse=True)
        return max(own_head, claims[min(f, len(claims) - 1)])


@dataclass(frozen=True)
class Readiness:
    """One answer of ``/ready`` (``assess``)."""

    height: int
    known_tip: int
    validators: int
    quorum: int
    validators_connected: int

    @property
    def behind_blocks(self) -> int:
        return max(0, self.known_tip - self.height)

    @property
    def synced(self) -> bool:
        return self.behind_blocks <= READY_LAG_BLOCKS

    @property
    def quorum_connected(self) -> bool:
        return self.validators_connected >= self.quorum

    @property
    def ready(self) -> bool:
        return self.synced and self.quorum_connected

    def failing(self) -> list[str]:
        """What keeps the node from being ready, in words an operator can act on."""
        problems = []
        if not self.synced:
            problems.append(
                f"not synced: head {self.height} is {self.behind_blocks} blocks behind the "
                f"validators' tip {self.known_tip} (catching up)"
            )
        if not self.quorum_connected:
            problems.append(
                f"not connected to a quorum: {self.validators_connected} of {self.validators} "
                f"validators reachable (this node included), {self.quorum} needed; check the "
                "links (peers in config.json, firewalls, the other nodes)"
            )
        return problems

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ready": self.ready}
        if not self.ready:
            body |= {"code": "not_ready", "message": "; ".join(self.failing())}
        body["checks"] = {
            "synced": {
                "ok": self.synced,
                "height": self.height,
                "known_tip": self.known_tip,
                "behind_blocks": self.behind_blocks,
                "max_lag_blocks": READY_LAG_BLOCKS,
            },
            "quorum": {
                "ok": self.quorum_connected,
                "validators_connected": self.validators_connected,
                "quorum": self.quorum,
                "validators": self.validators,
            },
        }
        return body


def assess(
    height: int,
    tips: PeerTips,
    validators: Collection[bytes],
    me: bytes,
    linked: Collection[bytes],
) -> Readiness:
    """Readiness from our head, the peers' claims and the validators linked both ways."""
    n = len(validators)
    f = (n - 1) // 3 if n else 0
    connected = (me in validators) + sum(1 for key in linked if key in validators and key != me)
    return Readiness(
        height=height,
        known_tip=tips.known_tip(height, validators, me, f),
        validators=n,
        quorum=2 * n // 3 + 1 if n else 1,
        validators_connected=connected,
    )


@dataclass
class CatchUpState:
    in_progress: bool = False
    started_height: int = 0
    started_at: float = 0.0
    blocks_fetched: int = 0
    catch_ups: int = 0


class CatchUpWatch:
    """Start and end of catching up (module docstring); ``update`` says which happened."""

    def __init__(self) -> None:
        self.state = CatchUpState()

    def on_commit(self) -> None:
        if self.state.in_progress:
            self.state.blocks_fetched += 1

    def update(self, readiness: Readiness, now: float) -> str | None:
        """``"started"``, ``"finished"`` or None, from the latest readiness."""
        state = self.state
        if not state.in_progress and not readiness.synced:
            state.in_progress, state.started_height, state.started_at = True, readiness.height, now
            state.catch_ups += 1
            return "started"
        if state.in_progress and readiness.synced:
            state.in_progress = False
            return "finished"
        return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self.state)
