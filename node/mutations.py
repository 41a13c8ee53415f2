"""Planted bugs in the node shell for the shell simulator's mutation check.

The same idea as ``consensus.mutations`` (FoundationDB's BUGGIFY), one layer
up: each name switches on one deliberately wrong line in the consensus
driver, and ``tests/node/shellsim.py`` must catch every one
(``python -m tests.consensus.run_sim --shell --mutants``). ``ENABLED`` is
empty in production and nothing outside the tests ever adds to it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ENABLED", "MUTATIONS", "is_enabled"]

MUTATIONS: Final = (
    "store_body_unchecked",
    "send_before_sync",
    "fatal_on_garbage",
)
"""``store_body_unchecked``: the replica is given a body check that accepts anything
(a catch-up or view-change body is kept unchecked). ``send_before_sync``: a signed
message leaves before the journal is synced. ``fatal_on_garbage``: an undecodable
consensus message from a peer stops the node."""

ENABLED: set[str] = set()
"""Names of the planted bugs switched on; tests only."""


def is_enabled(name: str) -> bool:
    """True when the planted bug ``name`` is switched on (never in production)."""
    return bool(ENABLED) and name in ENABLED
