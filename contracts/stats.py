"""Per-provider, per-class and per-city counters that supervisors read (and prove)."""

from __future__ import annotations

import dataclasses

from contracts.model import (
    EMPTY_CITY_STATS,
    EMPTY_CLASS_STATS,
    EMPTY_PROVIDER_STATS,
    CityStats,
    ClassStats,
    ProviderStats,
    city_stats_key,
    class_stats_key,
    provider_stats_key,
)
from contracts.state import Overlay

__all__ = ["on_city_stats", "on_class_stats", "on_provider_stats"]


def on_provider_stats(state: Overlay, provider_id: str, **deltas: int) -> None:
    """Add ``deltas`` to a provider's counters."""
    key = provider_stats_key(provider_id)
    stats = state.get_record(key, ProviderStats) or EMPTY_PROVIDER_STATS
    changed = {name: getattr(stats, name) + delta for name, delta in deltas.items()}
    state.put(key, dataclasses.replace(stats, **changed))


def on_city_stats(state: Overlay, city: str, **deltas: int) -> None:
    """Add ``deltas`` to a city's counters."""
    key = city_stats_key(city)
    stats = state.get_record(key, CityStats) or EMPTY_CITY_STATS
    changed = {name: getattr(stats, name) + delta for name, delta in deltas.items()}
    state.put(key, dataclasses.replace(stats, **changed))


def on_class_stats(state: Overlay, class_id: str, **deltas: int) -> None:
    """Add ``deltas`` to a class's counters."""
    key = class_stats_key(class_id)
    stats = state.get_record(key, ClassStats) or EMPTY_CLASS_STATS
    changed = {name: getattr(stats, name) + delta for name, delta in deltas.items()}
    state.put(key, dataclasses.replace(stats, **changed))
