"""The demo's realistic workload: a month of subsidised training, with fraud attempts.

What happens, in order (each phase is committed before the next starts):

1. The provincial admin publishes a policy version for the demo (identical to
   genesis but with a 20-second publicity period, so payment can be shown).
2. Three platforms open classes for several occupations in three cities.
3. They enrol trainees (pseudonyms of synthetic ID numbers with valid check
   digits); bureaus attest special-group categories for some of them.
4. Platforms upload the past month's learning sessions in batches of 100,
   with face checks every 25 minutes. Mixed in are deliberate frauds:
   the same person "studying" on two platforms at once, a fifth session
   beyond the daily cap, simulation beyond half the practice, simulation for
   an occupation that forbids it, and a session id uploaded twice.
5. Bureaus record offline practice and exams, and issue certificates.
6. Organizers file claims; bureaus approve and publicise, wait out the
   publicity period and pay; one organizer then tries to claim a paid
   certificate again, and another class tries to subsidise a paid person for
   the same occupation and level a second time.

No personal data is ever sent: ID numbers stay in this process, only their
HMAC pseudonyms (under a demo secret) go on the chain.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.crypto import CryptoSuite, Signer
from chain.errors import SkillchainError
from chain.genesis import load_genesis
from chain.pseudonym import id_check_digit, trainee_pseudonym
from chain.types import Tx, tx_hash
from node.client import Client, ClientError, TxBuilder
from node.keys import load_key

__all__ = ["Workload", "WorkloadError", "WorkloadReport"]

DAY = 86_400
SESSION_S = 2 * 3600
SESSIONS_PER_TX = 100
DEMO_SECRET = b"skillchain-demo-pseudonym-secret"  # a real province keeps this off-chain
DEMO_PUBLICITY_S = 20
CITY_OF = {"provider-ganpo": "360100", "provider-hongcheng": "360100", "provider-lushan": "360400"}
ORGANIZER_OF_CITY = {
    "360100": "organizer-nc-school",
    "360700": "organizer-gz-coop",
    "360400": "organizer-jj-center",
}


class WorkloadError(SkillchainError):
    """The network did not accept or commit the workload as expected."""

    code = "workload_failed"


def h(label: str) -> bytes:
    """A stand-in 32-byte hash for a document the platform keeps (image, log, ...)."""
    import hashlib

    return hashlib.sha256(label.encode()).digest()


def synthetic_id(rng: random.Random, city: str) -> str:
    """A well-formed, made-up 18-character ID number (valid check digit)."""
    birth = f"{rng.randint(1970, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = f"{city[:4]}{rng.randint(1, 30):02d}{birth}{rng.randint(0, 999):03d}"
    return first17 + id_check_digit(first17)


@dataclass
class ClassPlan:
    class_id: str
    provider: str
    organizer: str
    city: str
    occupation: Any
    trainees: list[bytes] = field(default_factory=list)


@dataclass
class WorkloadReport:
    """What the workload submitted, by intent (the chain's receipts say what happened)."""

    submitted: int = 0
    fraud_attempts: Counter[str] = field(default_factory=Counter)
    claims_filed: int = 0
    tx_hashes: list[bytes] = field(default_factory=list)


class Workload:
    """Drives a running network through the phases in the module docstring."""

    def __init__(
        self,
        root: Path,
        urls: list[str],
        trainees: int = 300,
        seed: int = 7,
        progress: Callable[[str], None] = print,
    ) -> None:
        self.genesis, _ = load_genesis(root / "genesis.json")
        self.suite: CryptoSuite = self.genesis.suite
        self.keys: dict[str, Signer] = {
            p.stem: load_key(p, self.genesis.crypto_suite)
            for p in sorted((root / "keys").glob("*.key"))
        }
        self.builders = {name: TxBuilder(k, self.genesis.chain_id) for name, k in self.keys.items()}
        self.urls = urls
        self.trainee_count = trainees
        self.rng = random.Random(seed)
        self.progress = progress
        self.report = WorkloadReport()
        self.now = int(time.time())
        self.head = 0
        self.classes: list[ClassPlan] = []

    # -- plumbing ----------------------------------------------------------------

    def tx(self, actor: str, kind: str, body: list) -> Tx:
        return self.builders[actor].build(kind, body, self.head)

    async def submit_all(self, clients: list[Client], txs: list[Tx], what: str) -> None:
        """Submit ``txs`` spread over every node, then wait until all are committed."""
        self.report.submitted += len(txs)
        hashes = [tx_hash(self.suite, t) for t in txs]
        self.report.tx_hashes += hashes
        chunks = [txs[i : i + 200] for i in range(0, len(txs), 200)]
        for i, chunk in enumerate(chunks):
            answer = await self._retrying(
                lambda c=chunk, i=i: clients[i % len(clients)].submit_batch(c)
            )
            refused = [r for r in answer["results"] if "code" in r and r["code"] != "duplicate_tx"]
            if refused:
                raise WorkloadError(f"{what}: the node refused txs: {refused[:3]}")
        await self.wait_committed(clients[0], hashes, what)

    async def _retrying(self, call: Callable[[], Any]) -> Any:
        for attempt in range(50):
            try:
                return await call()
            except ClientError as exc:
                if exc.code not in ("mempool_full", "rate_limited", "unreachable") or attempt == 49:
                    raise
                await asyncio.sleep(0.2)
        raise AssertionError("unreachable")

    async def wait_committed(
        self, client: Client, hashes: list[bytes], what: str, timeout_s: float = 300
    ) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(hashes)
        while pending:
            if time.monotonic() > deadline:
                raise WorkloadError(
                    f"{what}: {len(pending)} txs not committed after {timeout_s:.0f}s"
                )
            answer = await self._status(client, pending[-1])
            if answer.get("status") == "committed":
                results = await asyncio.gather(*(self._status(client, d) for d in pending))
                pending = [
                    d
                    for d, r in zip(pending, results, strict=True)
                    if r.get("status") != "committed"
                ]
            if pending:
                await asyncio.sleep(0.2)
        status = await client.status()
        self.head = status["height"]
        self.progress(f"  {what}: {len(hashes)} txs committed (height {self.head})")

    async def _status(self, client: Client, digest: bytes) -> dict[str, Any]:
        try:
            return await client.tx(digest)
        except ClientError:
            return {}

    # -- phases ------------------------------------------------------------------

    async def run(self) -> WorkloadReport:
        clients = [Client(u) for u in self.urls]
        for c in clients:
            await c.__aenter__()
        try:
            self.head = (await clients[0].status())["height"]
            await self.submit_all(clients, [self.demo_policy()], "admin publishes the demo policy")
            await self.submit_all(clients, self.open_classes(), "platforms open classes")
            await self.submit_all(
                clients, self.enrol() + self.attest(), "enrolment and category attestation"
            )
            await self.submit_all(
                clients, self.sessions(), "learning sessions (with fraud attempts)"
            )
            await self.submit_all(
                clients, self.practice_and_certificates(), "offline practice, exams, certificates"
            )
            claims = self.file_claims()
            await self.submit_all(clients, claims, "organizers file claims")
            claim_ids = [tx_hash(self.suite, t) for t in claims]
            await self.review(clients, claim_ids)
            await self.submit_all(clients, self.double_claims(), "double-claim attempts")
        finally:
            for c in clients:
                await c.__aexit__()
        return self.report

    def demo_policy(self) -> Tx:
        p = self.genesis.policy
        return self.tx(
            "jx-hrss",
            "registry.publish_policy",
            [
                self.now,
                p.daily_cap_seconds,
                p.face_check_interval_seconds,
                p.teaching_hour_seconds,
                p.simulation_cap_percent,
                p.yearly_claim_limit,
                p.claim_window_seconds,
                p.living_allowance_fen_per_day,
                p.living_allowance_cap_days,
                p.shortfall_fen_per_day,
                p.shortfall_cap_percent,
                DEMO_PUBLICITY_S,
                list(p.eligible_groups),
            ],
        )

    def _occupations(self) -> list[Any]:
        level5 = [o for o in self.genesis.occupations if o.level == 5]
        with_sim = [o for o in level5 if o.simulation_allowed][:2]
        without = [o for o in level5 if not o.simulation_allowed][:3]
        return with_sim + without

    def open_classes(self) -> list[Tx]:
        start, end = self.now - 60 * DAY, self.now + 60 * DAY
        occupations = self._occupations()
        providers = list(CITY_OF)
        txs = []
        for i, occupation in enumerate(occupations):
            provider = providers[i % len(providers)]
            city = CITY_OF[provider] if i % 2 == 0 else "360700"
            plan = ClassPlan(
                f"demo-{i + 1:02d}", provider, ORGANIZER_OF_CITY[city], city, occupation
            )
            self.classes.append(plan)
            planned = occupation.theory_seconds + occupation.practical_seconds
            txs.append(
                self.tx(
                    provider,
                    "enrolment.open_class",
                    [
                        plan.class_id,
                        plan.organizer,
                        occupation.code,
                        occupation.edition,
                        occupation.level,
                        city,
                        start,
                        end,
                        planned,
                    ],
                )
            )
        # A second class of the first occupation on another platform: the "other platform"
        # used for the overlap fraud, and the second class in the double-subsidy attempt.
        first = self.classes[0]
        other_provider = next(p for p in providers if p != first.provider)
        twin = ClassPlan("demo-twin", other_provider, first.organizer, first.city, first.occupation)
        self.classes.append(twin)
        txs.append(
            self.tx(
                other_provider,
                "enrolment.open_class",
                [
                    twin.class_id,
                    twin.organizer,
                    first.occupation.code,
                    first.occupation.edition,
                    first.occupation.level,
                    twin.city,
                    start,
                    end,
                    first.occupation.theory_seconds,
                ],
            )
        )
        return txs

    def enrol(self) -> list[Tx]:
        regular = self.classes[:-1]
        txs = []
        for n in range(self.trainee_count):
            plan = regular[n % len(regular)]
            pseudonym = trainee_pseudonym(
                self.suite, DEMO_SECRET, synthetic_id(self.rng, plan.city)
            )
            plan.trainees.append(pseudonym)
        twin = self.classes[-1]
        twin.trainees = list(self.classes[0].trainees[:10])
        for plan in self.classes:
            for i in range(0, len(plan.trainees), 100):
                rows = [
                    [t, h(f"realname-check-{t.hex()}"), "face+id-card"]
                    for t in plan.trainees[i : i + 100]
                ]
                txs.append(self.tx(plan.provider, "enrolment.enrol", [plan.class_id, rows]))
        return txs

    def attest(self) -> list[Tx]:
        txs = []
        for plan in self.classes[:-1]:
            for t in plan.trainees[::5]:
                txs.append(
                    self.tx(
                        f"bureau-{plan.city}",
                        "enrolment.attest_category",
                        [
                            t,
                            "unemployed_with_difficulty",
                            h(f"evidence-{t.hex()}"),
                            self.now - 365 * DAY,
                            self.now + 365 * DAY,
                        ],
                    )
                )
        return txs

    def _session(self, sid: str, trainee: bytes, plan: ClassPlan, start: int, mode: str) -> list:
        end = start + SESSION_S
        captures = [[t, h(f"img-{sid}-{t}"), True] for t in (*range(start, end, 1500), end)]
        return [
            sid,
            trainee,
            plan.class_id,
            "unit-1",
            mode,
            start,
            end,
            SESSION_S,
            captures,
            h(f"log-{sid}"),
        ]

    def _day_start(self, day: int) -> int:
        base = self.now - self.now % DAY - 30 * DAY  # midnight UTC, 30 days ago
        return base + day * DAY + 1 * 3600  # 09:00 China time

    def sessions(self) -> list[Tx]:
        by_provider: dict[str, list[list]] = {}
        for plan in self.classes[:-1]:
            occ = plan.occupation
            theory_n = -(-occ.theory_seconds // SESSION_S)
            sim_n = (occ.practical_seconds // 2) // SESSION_S if occ.simulation_allowed else 0
            rows = by_provider.setdefault(plan.provider, [])
            for t_index, trainee in enumerate(plan.trainees):
                slots = [(d, k) for d in range(28) for k in range(4)]
                for i in range(theory_n + sim_n):
                    day, k = slots[i]
                    mode = "recorded" if i < theory_n else "simulation"
                    rows.append(
                        self._session(
                            f"{plan.class_id}-{t_index}-{i}",
                            trainee,
                            plan,
                            self._day_start(day) + k * 9000,
                            mode,
                        )
                    )
        txs = [
            self.tx(p, "learning.record_sessions", [rows[i : i + SESSIONS_PER_TX]])
            for p, rows in by_provider.items()
            for i in range(0, len(rows), SESSIONS_PER_TX)
        ]
        return txs + self._fraudulent_sessions()

    def _fraudulent_sessions(self) -> list[Tx]:
        first, twin = self.classes[0], self.classes[-1]
        fraud = self.report.fraud_attempts
        rows_twin, rows_first = [], []
        for i, trainee in enumerate(twin.trainees):  # same person, same hours, other platform
            rows_twin.append(
                self._session(f"twin-{i}", trainee, twin, self._day_start(0), "recorded")
            )
            fraud["session_overlap"] += 1
        for i, trainee in enumerate(first.trainees[10:20]):  # a fifth session on a full day
            rows_first.append(
                self._session(
                    f"{first.class_id}-late-{i}",
                    trainee,
                    first,
                    self._day_start(0) + 4 * 9000,
                    "recorded",
                )
            )
            fraud["daily_cap_exceeded"] += 1
        sim_class = next(p for p in self.classes[:-1] if p.occupation.simulation_allowed)
        rows_sim = []
        for i, trainee in enumerate(sim_class.trainees[:10]):  # simulation beyond half the practice
            for k in range(2):  # the first may fill what is left under the cap; the second cannot
                start = self._day_start(29) + k * 9000
                sid = f"{sim_class.class_id}-extra-sim-{i}-{k}"
                rows_sim.append(self._session(sid, trainee, sim_class, start, "simulation"))
            fraud["simulation_cap_exceeded"] += 1
        nosim = next(p for p in self.classes[:-1] if not p.occupation.simulation_allowed)
        rows_nosim = [
            self._session(f"{nosim.class_id}-sim-{i}", t, nosim, self._day_start(29), "simulation")
            for i, t in enumerate(nosim.trainees[:5])
        ]
        fraud["simulation_not_allowed"] += len(rows_nosim)
        duplicate = [
            self._session(
                f"{nosim.class_id}-0-0", nosim.trainees[0], nosim, self._day_start(0), "recorded"
            )
        ]
        fraud["duplicate_session"] += 1
        uploads = [
            (twin.provider, rows_twin),
            (first.provider, rows_first),
            (sim_class.provider, rows_sim),
            (nosim.provider, rows_nosim + duplicate),
        ]
        return [self.tx(p, "learning.record_sessions", [rows]) for p, rows in uploads if rows]

    def practice_and_certificates(self) -> list[Tx]:
        txs = []
        issue = int(time.time())  # not before enrolment, not after the block time
        for plan in self.classes[:-1]:
            occ = plan.occupation
            bureau = f"bureau-{plan.city}"
            sim_n = (occ.practical_seconds // 2) // SESSION_S if occ.simulation_allowed else 0
            credited_sim = sim_n * SESSION_S
            offline = occ.practical_seconds - credited_sim
            for t_index, trainee in enumerate(plan.trainees):
                start = self._day_start(20) + 12 * 3600
                rid = f"{plan.class_id}-{t_index}"
                txs.append(
                    self.tx(
                        bureau,
                        "learning.record_offline_practice",
                        [
                            f"off-{rid}",
                            trainee,
                            plan.class_id,
                            start - offline,
                            start,
                            offline,
                            h(f"sign-in-{rid}"),
                        ],
                    )
                )
                txs.append(
                    self.tx(
                        bureau,
                        "learning.record_exam",
                        [
                            f"exam-{rid}",
                            trainee,
                            plan.class_id,
                            "practical",
                            85,
                            100,
                            True,
                            issue,
                            h(f"exam-{rid}"),
                        ],
                    )
                )
                txs.append(
                    self.tx(
                        bureau,
                        "learning.issue_certificate",
                        [
                            h(f"cert-no-{rid}"),
                            trainee,
                            occ.certificate_types[0],
                            occ.code,
                            occ.edition,
                            occ.level,
                            issue,
                        ],
                    )
                )
        return txs

    def file_claims(self) -> list[Tx]:
        txs = []
        for plan in self.classes[:-1]:
            for t_index, trainee in enumerate(plan.trainees):
                source = "employment_subsidy" if t_index % 2 else "unemployment_insurance"
                txs.append(
                    self.tx(
                        plan.organizer,
                        "settlement.file_claim",
                        [trainee, plan.class_id, h(f"cert-no-{plan.class_id}-{t_index}"), source],
                    )
                )
        self.report.claims_filed = len(txs)
        return txs

    async def review(self, clients: list[Client], claim_ids: list[bytes]) -> None:
        city_of_claim = {}
        for plan in self.classes[:-1]:
            for _ in plan.trainees:
                city_of_claim[len(city_of_claim)] = plan.city
        states = await asyncio.gather(*(clients[0].tx(c) for c in claim_ids))
        accepted = [
            (c, city_of_claim[i])
            for i, (c, s) in enumerate(zip(claim_ids, states, strict=True))
            if s["receipt"]["status"] == "accepted"
        ]
        for step in ("approve_claim", "publicise_claim"):
            txs = [self.tx(f"bureau-{city}", f"settlement.{step}", [c]) for c, city in accepted]
            await self.submit_all(clients, txs, f"bureaus {step.replace('_', ' ')}s")
        self.progress(f"  waiting out the {DEMO_PUBLICITY_S}s publicity period ...")
        await asyncio.sleep(DEMO_PUBLICITY_S + 2)
        txs = [
            self.tx(f"bureau-{city}", "settlement.pay_claim", [c, h(f"bank-ref-{c.hex()}")])
            for c, city in accepted
        ]
        await self.submit_all(clients, txs, "bureaus pay claims")

    def double_claims(self) -> list[Tx]:
        first, twin = self.classes[0], self.classes[-1]
        fraud = self.report.fraud_attempts
        fraud["certificate_claimed_twice"] += 1
        fraud["already_subsidised"] += 1
        return [
            self.tx(
                first.organizer,
                "settlement.file_claim",
                [
                    first.trainees[0],
                    first.class_id,
                    h(f"cert-no-{first.class_id}-0"),
                    "employment_subsidy",
                ],
            ),
            self.tx(
                twin.organizer,
                "settlement.file_claim",
                [
                    twin.trainees[1],
                    twin.class_id,
                    h(f"cert-no-{first.class_id}-1"),
                    "employment_subsidy",
                ],
            ),
        ]
