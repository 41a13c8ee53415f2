"""Tx bodies of kinds that exist from rules version 2 on (layouts in ``contracts.kinds``)."""

from __future__ import annotations

import re

from chain.errors import DecodeError
from chain.records import Record, record

__all__ = ["V2_KINDS", "DeclareSuccession", "PublishRules", "SetCalendar"]

_CODE = re.compile(r"[a-z][a-z0-9_+\-]*")


@record
class PublishRules(Record):
    effective_from: int
    class_backdate_seconds: int
    upload_delay_seconds: int
    min_study_day_seconds: int
    publicity_working_days: int
    groups: tuple[str, ...]
    special_groups: tuple[str, ...]

    def _check(self) -> None:
        if not 0 < len(self.groups) <= 64:
            raise DecodeError("groups: must list 1..64 items")
        for group in (*self.groups, *self.special_groups):
            if not _CODE.fullmatch(group) or len(group) > 64:
                raise DecodeError("groups: codes of a-z 0-9 _ + - starting with a letter")
        if len(self.special_groups) > 64:
            raise DecodeError("special_groups: at most 64")
        if self.publicity_working_days > 366:
            raise DecodeError("publicity_working_days: at most 366")


@record
class SetCalendar(Record):
    non_working_days: tuple[int, ...]
    working_days: tuple[int, ...]

    def _check(self) -> None:
        if len(self.non_working_days) > 4000 or len(self.working_days) > 4000:
            raise DecodeError("non_working_days, working_days: at most 4000 days each")


@record
class DeclareSuccession(Record):
    code: str
    edition: int
    successor_code: str
    successor_edition: int
    level: int

    def _check(self) -> None:
        for name in ("code", "successor_code"):
            if not 0 < len(getattr(self, name)) <= 16 or "/" in getattr(self, name):
                raise DecodeError(f"{name}: must have 1..16 characters without '/'")
        if not 1 <= self.level <= 5:
            raise DecodeError("level: must be 1..5")


V2_KINDS = frozenset({"registry.publish_rules", "registry.set_calendar",
                      "registry.declare_succession"})
"""Kinds that exist from rules version 2 on; a v1 chain refuses them as unknown."""
