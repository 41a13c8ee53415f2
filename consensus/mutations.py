"""Planted bugs for the simulator's mutation check (FoundationDB's BUGGIFY idea).

``ENABLED`` is empty in production and nothing outside the tests ever adds to
it. Each name switches on one deliberately wrong line in the replica; the
simulator must catch every one, which shows its checkers have teeth.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ENABLED", "MUTATIONS", "is_enabled"]

MUTATIONS: Final = (
    "persist_after_send",
    "new_view_without_certificates",
    "count_messages_not_signers",
    "prepare_as_commit",
    "view_goes_backwards",
    "catch_up_without_certificate",
)

ENABLED: set[str] = set()
"""Names of the planted bugs switched on; tests only."""


def is_enabled(name: str) -> bool:
    """True when the planted bug ``name`` is switched on (never in production)."""
    return bool(ENABLED) and name in ENABLED
