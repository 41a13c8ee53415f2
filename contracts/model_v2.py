"""State records of rules version 2 (``params.rules_version`` 2 in genesis).

Written only on a chain whose genesis asks for rules version 2 (``rules``
present; see ``contracts/README.md``, "Rules versions"), so a chain made under
version 1 keeps exactly the state it had:

    rules                            RulesHistory      version and dated v2 policy terms
    calendar                         Calendar          non-working / extra working CST days
    occ/<code>/<edition>/<level>/terms   TermsHistory  dated hours, simulation flag, types
    succ/<code>/<edition>/<level>    Successions       occupations the same once-only rule covers
    sess/<provider>/<session id>/days    DayCredits    per-day credit of a session over midnight
    claim/<claim id hex>/publicity   PublicityEnd      end of the listing, fixed when listed
    publicity/<city>                 ClaimIds          claims listed now (the public listing)
"""

from __future__ import annotations

from chain.records import Record, record
from contracts.model import occupation_key

__all__ = [
    "CALENDAR_KEY", "RULES_KEY", "Calendar", "ClaimIds", "DayCredits", "OccupationRef",
    "PublicityEnd", "RulesHistory", "RulesVersion", "Successions", "TermsHistory",
    "TermsVersion", "day_credits_key", "publicity_end_key", "publicity_list_key",
    "succession_key", "terms_key",
]

RULES_KEY = b"rules"
CALENDAR_KEY = b"calendar"


def terms_key(code: str, edition: int, level: int) -> bytes:
    return occupation_key(code, edition, level) + b"/terms"


def succession_key(code: str, edition: int, level: int) -> bytes:
    return f"succ/{code}/{edition}/{level}".encode()


def day_credits_key(session_key: bytes) -> bytes:
    return session_key + b"/days"


def publicity_end_key(claim_id: bytes) -> bytes:
    return b"claim/" + claim_id.hex().encode() + b"/publicity"


def publicity_list_key(city: str) -> bytes:
    return b"publicity/" + city.encode()


@record
class RulesVersion(Record):
    """Dated policy terms of rules version 2 (beside ``PolicyVersion``, whose layout stays)."""

    effective_from: int
    class_backdate_seconds: int
    upload_delay_seconds: int
    min_study_day_seconds: int
    publicity_working_days: int
    groups: tuple[str, ...]
    special_groups: tuple[str, ...]


@record
class RulesHistory(Record):
    version: int
    versions: tuple[RulesVersion, ...]


@record
class Calendar(Record):
    """CST day numbers: public holidays on weekdays, and weekend days worked (调休)."""

    non_working_days: tuple[int, ...]
    working_days: tuple[int, ...]


@record
class TermsVersion(Record):
    effective_from: int
    theory_seconds: int
    practical_seconds: int
    simulation_allowed: bool
    certificate_types: tuple[str, ...]


@record
class TermsHistory(Record):
    versions: tuple[TermsVersion, ...]


@record
class OccupationRef(Record):
    code: str
    edition: int
    level: int


@record
class Successions(Record):
    """Occupations declared the same for the once-only rule (both directions are stored)."""

    related: tuple[OccupationRef, ...]


@record
class DayCredits(Record):
    days: tuple[int, ...]
    credits: tuple[int, ...]


@record
class PublicityEnd(Record):
    until: int


@record
class ClaimIds(Record):
    claim_ids: tuple[bytes, ...]
