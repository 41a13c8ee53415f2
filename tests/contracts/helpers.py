"""A small deterministic world for contract tests: genesis, keys, a chain driver.

Keys come from fixed seeds (``key(n)`` = the ed25519 key of seed n as 32
big-endian bytes), so vectors and failures reproduce anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chain.crypto import get_suite
from chain.genesis import Genesis
from chain.records import Record
from chain.types import Receipt, Tx, tx_hash
from contracts import BlockContext, DictState, Overlay, execute_block, init_genesis

SUITE = get_suite("ed25519-sha256")
CHAIN_ID = "skillchain-test"
T0 = 1_700_000_000  # 2023-11-15 06:13 CST
HOUR = 3600
DAY = 86400
CITY = "360100"
CITY2 = "360200"
OCC = ("4-03-02-01", 2015, 5)          # simulation allowed
OCC_NOSIM = ("6-18-01-01", 2015, 4)    # simulation not allowed
STANDARD_FEN = 120_000
OVERRIDE_FEN = 130_000


_SIGNERS: dict[int, Any] = {}


def key(n: int) -> Any:
    """The deterministic signer number ``n``."""
    if n not in _SIGNERS:
        _SIGNERS[n] = SUITE.signer_from_seed(n.to_bytes(32, "big"))
    return _SIGNERS[n]


def pub(n: int) -> bytes:
    return key(n).public_key


# Who is who (seed numbers).
VALIDATORS = (1, 2, 3, 4)
ADMIN, BUREAU, BUREAU2, BUREAU3, BUREAU4 = 10, 11, 12, 13, 14
PROVIDER, PROVIDER2, ORGANIZER, ORGANIZER2 = 20, 21, 30, 31


def genesis_doc(budget_fen: int = 10_000_000, **policy_changes: Any) -> dict[str, Any]:
    cities = {"360100": "南昌市", "360200": "景德镇市", "360300": "萍乡市", "360400": "九江市"}
    policy = {
        "effective_from": 0,
        "daily_cap_seconds": 8 * HOUR,
        "face_check_interval_seconds": 1800,
        "teaching_hour_seconds": 2700,
        "simulation_cap_percent": 50,
        "yearly_claim_limit": 2,
        "claim_window_seconds": 365 * DAY,
        "living_allowance_fen_per_day": 3_000,
        "living_allowance_cap_days": 30,
        "shortfall_fen_per_day": 10_000,
        "shortfall_cap_percent": 60,
        "publicity_seconds": 5 * DAY,
        "eligible_groups": ["general"],
    }
    policy.update(policy_changes)

    def actor(ident: str, role: str, region: str, n: int) -> dict[str, Any]:
        return {"id": ident, "role": role, "name": ident, "region_code": region,
                "public_keys": [pub(n).hex()]}

    return {
        "chain_id": CHAIN_ID,
        "crypto_suite": "ed25519-sha256",
        "genesis_time": T0,
        "development_keys": True,
        "cities": cities,
        "validators": [
            {"name": f"v{i}", "region_code": code, "public_key": pub(n).hex()}
            for i, (n, code) in enumerate(zip(VALIDATORS, sorted(cities), strict=True))
        ],
        "actors": [
            actor("hrss-jx", "admin", "360100", ADMIN),
            actor("bureau-nc", "bureau", "360100", BUREAU),
            actor("bureau-jdz", "bureau", "360200", BUREAU2),
            actor("bureau-px", "bureau", "360300", BUREAU3),
            actor("bureau-jj", "bureau", "360400", BUREAU4),
            actor("platform-a", "provider", "360100", PROVIDER),
            actor("platform-b", "provider", "360100", PROVIDER2),
            actor("org-a", "organizer", "360100", ORGANIZER),
            actor("org-b", "organizer", "360200", ORGANIZER2),
        ],
        "occupations": [
            {"code": OCC[0], "edition": OCC[1], "level": OCC[2], "name": "电子商务师",
             "theory_seconds": 4 * HOUR, "practical_seconds": 4 * HOUR,
             "simulation_allowed": True, "certificate_types": ["skill_level"],
             "standards_fen": {"skill_level": STANDARD_FEN},
             "city_overrides_fen": {CITY2: {"skill_level": OVERRIDE_FEN}}},
            {"code": OCC_NOSIM[0], "edition": OCC_NOSIM[1], "level": OCC_NOSIM[2],
             "name": "电工", "theory_seconds": 2 * HOUR, "practical_seconds": 2 * HOUR,
             "simulation_allowed": False,
             "certificate_types": ["skill_level", "special_operations"],
             "standards_fen": {"skill_level": 150_000, "special_operations": 100_000}},
        ],
        "policy": policy,
        "funds": [
            {"region_code": c, "source": s, "budget_fen": budget_fen}
            for c in ("360100", "360200")
            for s in ("employment_subsidy", "unemployment_insurance")
        ],
    }


def make_genesis(budget_fen: int = 10_000_000, rules_version: int = 1,
                 **policy_changes: Any) -> Genesis:
    doc = genesis_doc(budget_fen, **policy_changes)
    if rules_version != 1:
        doc["params"] = {"rules_version": rules_version}
    return Genesis.model_validate(doc)


def trainee(n: int) -> bytes:
    """A deterministic 32-byte pseudonym."""
    return SUITE.hmac(b"test-provincial-secret", f"trainee-{n}".encode())


def h(label: str) -> bytes:
    """A deterministic 32-byte hash standing for a document or image."""
    return SUITE.hash(label.encode())


def wire(value: Any) -> Any:
    return value.to_wire() if isinstance(value, Record) else value


@dataclass
class Chain:
    """Drives the contracts block by block over an in-memory committed state."""

    genesis: Genesis = field(default_factory=make_genesis)
    base: DictState = field(default_factory=DictState)
    height: int = 0
    time: int = T0
    nonce: int = 0
    last_changes: dict[bytes, bytes | None] = field(default_factory=dict)
    blocks: list[tuple[int, int, list[Tx]]] = field(default_factory=list)
    policy_changes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.base.data:
            state = Overlay(self.base)
            init_genesis(state, self.genesis)
            self.base.apply(state.changes())

    def tx(self, signer_n: int, kind: str, body: Any, expires: int | None = None) -> Tx:
        self.nonce += 1
        exp = self.height + 100 if expires is None else expires
        return Tx(CHAIN_ID, kind, pub(signer_n), self.nonce, exp, wire(body), b"")

    def run(self, txs: list[Tx], advance_s: int = 60) -> list[Receipt]:
        """Execute one block of ``txs`` and commit it."""
        self.height += 1
        self.time += advance_s
        self.blocks.append((self.height, self.time, list(txs)))
        state = Overlay(self.base)
        ctx = BlockContext(self.height, self.time, pub(VALIDATORS[0]), SUITE, CHAIN_ID)
        receipts = execute_block(state, ctx, [(t, tx_hash(SUITE, t)) for t in txs])
        self.last_changes = state.changes()
        self.base.apply(self.last_changes)
        return receipts

    def send(self, signer_n: int, kind: str, body: Any, advance_s: int = 60) -> Receipt:
        return self.run([self.tx(signer_n, kind, body)], advance_s)[0]

    def hash_of(self, t: Tx) -> bytes:
        return tx_hash(SUITE, t)

    def view(self) -> Overlay:
        return Overlay(self.base)


# -- body builders (list form, as clients send them) ---------------------------------------
def open_class_body(class_id: str = "c1", organizer: str = "org-a", occ: tuple = OCC,
                    city: str = CITY, start: int = T0, end: int = T0 + 120 * DAY,
                    planned: int = 8 * HOUR) -> list:
    return [class_id, organizer, occ[0], occ[1], occ[2], city, start, end, planned]


def enrol_body(class_id: str, trainees: list[int]) -> list:
    return [class_id, [[trainee(n), h(f"check-{n}"), "face+idcard"] for n in trainees]]


def checks(start: int, end: int, every: int = 1800, passed: bool = True) -> list:
    """Passed face checks from ``start`` every ``every`` seconds up to ``end``."""
    return [[t, h(f"img-{t}"), passed] for t in range(start, end + 1, every)]


def session(sid: str, n: int, start: int, duration: int, class_id: str = "c1",
            mode: str = "recorded", active: int | None = None,
            captures: list | None = None) -> list:
    end = start + duration
    return [sid, trainee(n), class_id, "unit-1", mode, start, end,
            duration if active is None else active,
            checks(start, end) if captures is None else captures, h(f"log-{sid}")]


def sessions_body(*items: list) -> list:
    return [list(items)]


def certificate_body(label: str, n: int, occ: tuple = OCC, kind: str = "skill_level",
                     date: int = T0 + 20 * DAY) -> list:
    return [h(f"cert-{label}"), trainee(n), kind, occ[0], occ[1], occ[2], date]


def offline_body(rid: str, n: int, start: int, seconds: int, class_id: str = "c1") -> list:
    return [rid, trainee(n), class_id, start, start + seconds, seconds, h(f"offline-{rid}")]


def world(trainees: tuple[int, ...] = (1, 2, 3), **policy: Any) -> Chain:
    """Genesis, class c1 (platform-a, org-a, OCC, Nanchang) with ``trainees`` enrolled, and
    the clock moved 30 days past genesis so that sessions in the first month are past."""
    chain = Chain(genesis=make_genesis(**policy), policy_changes=dict(policy))
    r1 = chain.send(PROVIDER, "enrolment.open_class", open_class_body())
    r2 = chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", list(trainees)))
    assert r1.code == "" and r2.code == "", (r1, r2)
    chain.run([], advance_s=30 * DAY)
    return chain


def world2(trainees: tuple[int, ...] = (1, 2, 3), **policy: Any) -> Chain:
    """Like ``world`` on a rules-version-2 chain, where evidence must follow the enrolment:
    class c1 starts at genesis, trainees are enrolled at T0 + 120 s, and the clock is
    moved to T0 + 2 days (sessions of day ``D1`` = T0 + 1 day are then past and recent)."""
    chain = Chain(genesis=make_genesis(rules_version=2, **policy), policy_changes=dict(policy))
    r1 = chain.send(PROVIDER, "enrolment.open_class", open_class_body())
    r2 = chain.send(PROVIDER, "enrolment.enrol", enrol_body("c1", list(trainees)))
    assert r1.code == "" and r2.code == "", (r1, r2)
    chain.run([], advance_s=2 * DAY)
    return chain


def state_digest(state: DictState) -> bytes:
    """One hash over the whole state (sorted keys): what vectors pin."""
    from chain.codec import encode

    return SUITE.hash(encode([[k, state.data[k]] for k in sorted(state.data)]))


def codes_of(receipt: Receipt) -> list[str]:
    """Per-session codes of a record_sessions receipt ("" = credited)."""
    return [e.data[1] if e.kind == "learning.session_rejected" else ""
            for e in receipt.events]
