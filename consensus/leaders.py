"""Leader reputation: a validator whose turns failed lately is passed over for a while.

Plain rotation (``viewchange.primary_index``) gives every validator its turn,
so one slow or dead bureau costs a view change — a whole timeout — every time
its height comes round: with 12 validators, one height in twelve (issue 14:
blocks per minute 288 -> 62 with one bureau at 200 ms and 5% loss). So the
order is the rotation with the *benched* validators taken out.

Who is benched must be the same at every replica, so it is computed from
agreed data only: the ``view`` field of the last ``window`` committed block
headers (part of each block's hash, so every honest node has the same value;
a certificate's view is not, since one block may gather commit quorums in two
views). A block whose header says view v > 0 means that height's view-0 turn
did not produce it: the rotation's first validator of that height is blamed.
(When that validator was itself benched, its substitute failed and the blame
lands on it instead: a pure function of headers cannot tell them apart
without replaying the schedule, and a wrong blame costs only a turn, never
safety.) At most f validators are benched — the most recently blamed — so at
least 2f+1 take turns; a benched validator returns when its failures leave
the window, and gets no turn meanwhile in which to fail again.

Only liveness depends on this: a replica that disagreed about the schedule
would refuse proposals and change views, never decide differently, because
votes and certificates do not mention the primary.
"""

from __future__ import annotations

from collections.abc import Mapping

from chain.validators import ValidatorSet
from consensus.viewchange import primary_index

__all__ = ["benched", "schedule"]


def benched(
    valset: ValidatorSet, height: int, views: Mapping[int, int], window: int
) -> frozenset[bytes]:
    """The validators passed over at ``height``: blamed within ``window`` heights, <= f."""
    n = len(valset)
    if window <= 0 or n < 4:
        return frozenset()
    last_blamed: dict[bytes, int] = {}
    for past in range(max(1, height - window), height):
        if views.get(past, 0) > 0:
            key = valset.validators[primary_index(past, 0, n)].public_key
            last_blamed[key] = past
    worst = sorted(last_blamed, key=lambda key: (-last_blamed[key], key))
    return frozenset(worst[: (n - 1) // 3])


def schedule(valset: ValidatorSet, height: int, skip: frozenset[bytes]) -> tuple[bytes, ...]:
    """Primaries of ``height`` in view order: the rotation without ``skip``.

    View v's primary is ``schedule[v % len(schedule)]``; with nothing skipped
    this is exactly ``primary_index``.
    """
    n = len(valset)
    order = tuple(valset.validators[primary_index(height, j, n)].public_key for j in range(n))
    kept = tuple(key for key in order if key not in skip)
    return kept or order
