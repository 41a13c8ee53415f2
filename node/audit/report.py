"""``audit report``: supervision figures and soft fraud signals from a replayed chain.

Reads only a store that ``audit replay`` verified, so every figure is backed by
certified blocks. One pass over blocks and receipts (what the chain recorded,
not what anyone intended) gives, per provider, class, city and occupation:
enrolled trainees, credited online and offline hours, claims filed and paid
with amounts, and rejected attempts by error code (tx rejections and
per-session rejections alike).

Soft signals are leads for a human, never verdicts; each item carries its
evidence (tx hashes and heights). Thresholds are parameters (``Thresholds``):

* ``identical_timings`` — trainees whose whole schedule of credited sessions
  (every start and end, at least ``min_sessions``) is identical;
* ``night_sessions`` — credited sessions overlapping 00:00-05:00 China time;
* ``fast_study`` — a trainee credited the occupation's full theory time in
  fewer calendar days than ``theory / plausible_daily_s``;
* ``failed_face_checks`` — a trainee with at least ``min_failed_checks``
  failed face-check captures across all sessions (credited or not).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import contracts
from chain.genesis import Genesis
from chain.types import Block, Receipt, ReceiptStatus, tx_hash
from contracts.errors import ContractError
from contracts.kinds import parse_body
from contracts.model import Occupation, occupation_key
from storage.store import Store

__all__ = ["DIMENSIONS", "ReportBuilder", "Thresholds", "build_report"]

DIMENSIONS = ("provider", "class", "city", "occupation")
CHINA_OFFSET_S = 8 * 3600
NIGHT_END_S = 5 * 3600
DAY_S = 86_400
EVIDENCE_CAP = 20
NONE = "(none)"
_SESSION_EVENTS = ("learning.session_credited", "learning.session_rejected")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a soft signal fires (see the module docstring)."""

    min_sessions: int = 3
    plausible_daily_s: int = 6 * 3600
    min_failed_checks: int = 3


@dataclass
class Tally:
    """The figures of one provider, class, city or occupation."""

    trainees: set[bytes] = field(default_factory=set)
    sessions_credited: int = 0
    online_seconds: int = 0
    offline_seconds: int = 0
    claims_filed: int = 0
    claimed_fen: int = 0
    claims_paid: int = 0
    paid_fen: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def row(self) -> dict[str, Any]:
        return {
            "trainees": len(self.trainees),
            "sessions_credited": self.sessions_credited,
            "credited_online_hours": round(self.online_seconds / 3600, 2),
            "credited_offline_hours": round(self.offline_seconds / 3600, 2),
            "claims_filed": self.claims_filed,
            "claimed_yuan": self.claimed_fen / 100,
            "claims_paid": self.claims_paid,
            "paid_yuan": self.paid_fen / 100,
            "rejected_attempts": sum(self.rejected.values()),
            "rejected_by_code": dict(sorted(self.rejected.items())),
        }


@dataclass(frozen=True, slots=True)
class ClassInfo:
    provider: str
    city: str
    occupation: str
    occupation_key: bytes


@dataclass(frozen=True, slots=True)
class SessionSeen:
    """One uploaded session, with where it sits on the chain."""

    trainee: bytes
    class_id: str
    start: int
    end: int
    credited_s: int
    credits: str
    failed_checks: int
    tx: str
    height: int


class ReportBuilder:
    """Accumulates figures block by block; ``result()`` renders them."""

    def __init__(self, genesis: Genesis, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self.suite = genesis.suite
        self.actor_of: dict[bytes, str] = {
            bytes.fromhex(key): actor.id for actor in genesis.actors for key in actor.public_keys
        }
        self.classes: dict[str, ClassInfo] = {}
        self.claims: dict[bytes, str] = {}
        self.tallies: dict[str, dict[str, Tally]] = {d: defaultdict(Tally) for d in DIMENSIONS}
        self.sessions: list[SessionSeen] = []
        self.blocks = self.txs = 0

    # -- accumulation ---------------------------------------------------------------

    def _tallies(self, class_id: str | None, sender: str) -> Iterator[Tally]:
        info = self.classes.get(class_id or "")
        keys = (
            info.provider if info else sender,
            class_id or NONE,
            info.city if info else NONE,
            info.occupation if info else NONE,
        )
        for dim, key in zip(DIMENSIONS, keys, strict=True):
            yield self.tallies[dim][key]

    def add_block(self, block: Block, receipts: list[Receipt]) -> None:
        self.blocks += 1
        for tx, receipt in zip(block.txs, receipts, strict=True):
            self.txs += 1
            sender = self.actor_of.get(tx.sender, tx.sender.hex()[:16])
            try:
                body = parse_body(tx.kind, tx.body)
            except ContractError:
                body = None
            class_id = getattr(body, "class_id", None)
            digest = tx_hash(self.suite, tx).hex()
            if receipt.status == ReceiptStatus.REJECTED:
                for tally in self._tallies(class_id, sender):
                    tally.rejected[receipt.code] += 1
                continue
            handler = getattr(self, "_on_" + tx.kind.replace(".", "_"), None)
            if handler is not None and body is not None:
                handler(body, receipt, sender, digest, block.header.height)

    def _on_enrolment_open_class(self, body: Any, _r: Receipt, sender: str, *_: Any) -> None:
        self.classes[body.class_id] = ClassInfo(
            sender, body.city, f"{body.occupation_code} ({body.edition}) L{body.level}",
            occupation_key(body.occupation_code, body.edition, body.level))
        for _tally in self._tallies(body.class_id, sender):
            pass  # touching the rows makes the class appear before anyone enrols

    def _on_enrolment_enrol(self, body: Any, _r: Receipt, sender: str, *_: Any) -> None:
        for tally in self._tallies(body.class_id, sender):
            tally.trainees.update(t.trainee for t in body.trainees)

    def _on_learning_record_sessions(
        self, body: Any, receipt: Receipt, sender: str, digest: str, height: int
    ) -> None:
        outcomes = [e for e in receipt.events if e.kind in _SESSION_EVENTS]
        for session, event in zip(body.sessions, outcomes, strict=False):  # one event each
            failed = sum(1 for c in session.captures if not c.passed)
            tallies = list(self._tallies(session.class_id, sender))
            if event.kind == "learning.session_rejected":
                for tally in tallies:
                    tally.rejected[event.data[1]] += 1
                credited, credits = 0, ""
            else:
                credits, credited = event.data[1], event.data[2]
                for tally in tallies:
                    tally.sessions_credited += 1
                    tally.online_seconds += credited
            self.sessions.append(SessionSeen(
                session.trainee, session.class_id, session.start, session.end, credited,
                credits, failed, digest, height))

    def _on_learning_record_offline_practice(
        self, body: Any, _r: Receipt, sender: str, *_: Any
    ) -> None:
        for tally in self._tallies(body.class_id, sender):
            tally.offline_seconds += body.seconds

    def _on_settlement_file_claim(
        self, body: Any, receipt: Receipt, sender: str, digest: str, _h: int
    ) -> None:
        self.claims[bytes.fromhex(digest)] = body.class_id
        filed = next((e for e in receipt.events if e.kind == "settlement.claim_filed"), None)
        amount = filed.data[1] + filed.data[2] if filed else 0
        for tally in self._tallies(body.class_id, sender):
            tally.claims_filed += 1
            tally.claimed_fen += amount

    def _on_settlement_pay_claim(self, body: Any, receipt: Receipt, sender: str, *_: Any) -> None:
        paid = next((e for e in receipt.events if e.kind == "settlement.claim_paid"), None)
        class_id = self.claims.get(body.claim_id)
        for tally in self._tallies(class_id, sender):
            tally.claims_paid += 1
            tally.paid_fen += paid.data[1] if paid else 0

    # -- rendering ------------------------------------------------------------------

    def result(self, required_theory: dict[str, int]) -> dict[str, Any]:
        tables = {
            dim: [{dim: key, **tally.row()} for key, tally in sorted(rows.items())]
            for dim, rows in self.tallies.items()
        }
        signals = {
            "identical_timings": self._identical_timings(),
            "night_sessions": self._night_sessions(),
            "fast_study": self._fast_study(required_theory),
            "failed_face_checks": self._failed_checks(),
        }
        return {"blocks": self.blocks, "txs": self.txs, "tables": tables, "signals": signals}

    def _identical_timings(self) -> list[dict[str, Any]]:
        schedules: dict[bytes, list[SessionSeen]] = defaultdict(list)
        for s in self.sessions:
            if s.credited_s:
                schedules[s.trainee].append(s)
        groups: dict[tuple[tuple[int, int], ...], list[bytes]] = defaultdict(list)
        for trainee, seen in schedules.items():
            if len(seen) >= self.thresholds.min_sessions:
                groups[tuple(sorted((s.start, s.end) for s in seen))].append(trainee)
        items = []
        for schedule, trainees in groups.items():
            if len(trainees) < 2:
                continue
            seen = [s for t in trainees for s in schedules[t]]
            items.append(_item(
                f"{len(trainees)} trainees share one schedule of {len(schedule)} sessions",
                len(trainees), seen, trainees=[t.hex() for t in trainees[:EVIDENCE_CAP]]))
        return sorted(items, key=lambda i: -i["count"])

    def _night_sessions(self) -> list[dict[str, Any]]:
        by_trainee: dict[bytes, list[SessionSeen]] = defaultdict(list)
        for s in self.sessions:
            if s.credited_s and _overlaps_night(s.start, s.end):
                by_trainee[s.trainee].append(s)
        return [
            _item(f"trainee {t.hex()[:16]}… studied {len(seen)} session(s) at 00:00-05:00",
                  len(seen), seen, trainees=[t.hex()])
            for t, seen in sorted(by_trainee.items(), key=lambda kv: -len(kv[1]))
        ]

    def _fast_study(self, required_theory: dict[str, int]) -> list[dict[str, Any]]:
        items = []
        per: dict[tuple[bytes, str], list[SessionSeen]] = defaultdict(list)
        for s in self.sessions:
            if s.credited_s and s.credits == "theory":
                per[(s.trainee, s.class_id)].append(s)
        for (trainee, class_id), seen in per.items():
            required = required_theory.get(class_id, 0)
            seen.sort(key=lambda s: s.start)
            total, first = 0, seen[0].start
            for s in seen:
                total += s.credited_s
                if required and total >= required:
                    days = (s.end - first) // DAY_S + 1
                    if days * self.thresholds.plausible_daily_s < required:
                        items.append(_item(
                            f"trainee {trainee.hex()[:16]}… completed {required / 3600:.1f} h "
                            f"of theory in {class_id} within {days} day(s)",
                            days, [x for x in seen if x.start <= s.start],
                            trainees=[trainee.hex()]))
                    break
        return sorted(items, key=lambda i: i["count"])

    def _failed_checks(self) -> list[dict[str, Any]]:
        by_trainee: dict[bytes, list[SessionSeen]] = defaultdict(list)
        for s in self.sessions:
            if s.failed_checks:
                by_trainee[s.trainee].append(s)
        items = []
        for trainee, seen in by_trainee.items():
            failed = sum(s.failed_checks for s in seen)
            if failed >= self.thresholds.min_failed_checks:
                items.append(_item(
                    f"trainee {trainee.hex()[:16]}… failed {failed} face checks "
                    f"in {len(seen)} session(s)", failed, seen, trainees=[trainee.hex()]))
        return sorted(items, key=lambda i: -i["count"])


def _overlaps_night(start: int, end: int) -> bool:
    """Does [start, end) overlap 00:00-05:00 China time on any day?"""
    local_start, local_end = start + CHINA_OFFSET_S, end + CHINA_OFFSET_S
    for day in range(local_start // DAY_S, local_end // DAY_S + 1):
        if local_start < day * DAY_S + NIGHT_END_S and local_end > day * DAY_S:
            return True
    return False


def _item(subject: str, count: int, seen: list[SessionSeen], **extra: Any) -> dict[str, Any]:
    """One signal with its evidence: distinct tx hashes and heights (capped)."""
    txs = sorted({(s.height, s.tx) for s in seen})
    return {
        "subject": subject,
        "count": count,
        "tx_hashes": [t for _, t in txs[:EVIDENCE_CAP]],
        "heights": sorted({h for h, _ in txs})[:EVIDENCE_CAP],
        **extra,
    }


def build_report(
    genesis: Genesis, store: Store, thresholds: Thresholds | None = None
) -> dict[str, Any]:
    """The whole report over every block of a replayed ``store``."""
    builder = ReportBuilder(genesis, thresholds or Thresholds())
    head = store.head
    for height in range(1, (head.height if head else 0) + 1):
        block, receipts = store.block(height), store.receipts(height)
        if block is None or receipts is None:
            break
        builder.add_block(block, receipts)
    report = builder.result(_required_theory(store, builder.classes))
    for row in report["tables"]["city"]:
        row["name"] = str(genesis.cities.get(row["city"], ""))
    report.update(chain_id=genesis.chain_id, height=builder.blocks,
                  thresholds=vars_of(builder.thresholds))
    return report


def _required_theory(store: Store, classes: dict[str, ClassInfo]) -> dict[str, int]:
    """Required theory seconds per class, from the occupation records in state."""
    state = contracts.Overlay(store.state)
    out = {}
    for class_id, info in classes.items():
        occupation = state.get_record(info.occupation_key, Occupation)
        if occupation is not None:
            out[class_id] = occupation.theory_seconds
    return out


def vars_of(thresholds: Thresholds) -> dict[str, int]:
    return {name: getattr(thresholds, name) for name in thresholds.__slots__}
