"""Generate the contract test vectors under tests/vectors/contracts/ (STYLE rule 12).

    PYTHONPATH=. python -m tests.contracts.make_vectors

Each vector is one JSON file:

    name, description
    genesis          the genesis document (deterministic keys from fixed seeds)
    blocks           every block since genesis: height, time, txs (hex of the
                     canonical Tx encoding, signature empty: contracts do not
                     verify signatures); the last block is the one under test
    pre_state_digest   state digest before the last block
    expected         per tx of the last block: status, code, and for session
                     batches the per-session codes ("" = credited)
    post_state_digest  state digest after the last block

The state digest is sha256 of the canonical msgpack list of [key, value]
pairs in key order (``helpers.state_digest``). Other implementations replay
the blocks from genesis and must reach the same codes and digests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain.types import Receipt, Tx
from tests.contracts import helpers as H
from tests.contracts.helpers import (
    ADMIN,
    BUREAU,
    BUREAU2,
    BUREAU3,
    DAY,
    HOUR,
    ORGANIZER,
    PROVIDER,
    PROVIDER2,
    T0,
    Chain,
    certificate_body,
    enrol_body,
    h,
    offline_body,
    open_class_body,
    pub,
    session,
    state_digest,
    trainee,
    world,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "contracts"
D1 = T0 + 2 * DAY
Scenario = Callable[[], tuple[Chain, list[Tx]]]
SCENARIOS: dict[str, tuple[str, Scenario]] = {}


def scenario(description: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[fn.__name__] = (description, fn)
        return fn
    return register


def sessions(chain: Chain, *items: list, sender: int = PROVIDER) -> Tx:
    return chain.tx(sender, "learning.record_sessions", [list(items)])


def second_provider(chain: Chain) -> None:
    chain.run([chain.tx(PROVIDER2, "enrolment.open_class", open_class_body("c2"))])
    chain.run([chain.tx(PROVIDER2, "enrolment.enrol", enrol_body("c2", [1, 2, 3]))])


def claimable(chain: Chain, n: int = 1) -> bytes:
    chain.run([sessions(chain, session(f"t{n}a", n, D1, 2 * HOUR),
                        session(f"t{n}b", n, D1 + DAY, 2 * HOUR),
                        session(f"t{n}c", n, D1 + DAY + 3 * HOUR, 2 * HOUR, mode="simulation"))])
    chain.run([chain.tx(BUREAU, "learning.record_offline_practice",
                        offline_body(f"o{n}", n, D1 + 2 * DAY, 2 * HOUR)),
               chain.tx(BUREAU, "learning.issue_certificate",
                        certificate_body(f"v{n}", n, date=chain.time))])
    return h(f"cert-v{n}")


def file_tx(chain: Chain, n: int, cert: bytes, source: str = "unemployment_insurance") -> Tx:
    return chain.tx(ORGANIZER, "settlement.file_claim", [trainee(n), "c1", cert, source])


# -- learning -------------------------------------------------------------------------------
@scenario("a batch: credited, overlapping within the batch, not enrolled, in the future")
def session_batch() -> tuple[Chain, list[Tx]]:
    chain = world()
    return chain, [sessions(chain, session("s1", 1, D1, HOUR), session("s2", 1, D1 + 600, HOUR),
                            session("s3", 9, D1, HOUR), session("s4", 2, chain.time, HOUR))]


@scenario("the same trainee cannot study on two platforms at once")
def overlap_across_providers() -> tuple[Chain, list[Tx]]:
    chain = world()
    second_provider(chain)
    chain.run([sessions(chain, session("a1", 1, D1, HOUR))])
    return chain, [sessions(chain, session("b1", 1, D1 + 1800, HOUR, class_id="c2"),
                            sender=PROVIDER2)]


@scenario("daily cap: partial credit, then daily_cap_exceeded")
def daily_cap() -> tuple[Chain, list[Tx]]:
    chain = world(daily_cap_seconds=3 * HOUR)
    chain.run([sessions(chain, session("s1", 1, D1, 2 * HOUR))])
    return chain, [sessions(chain, session("s2", 1, D1 + 2 * HOUR, 2 * HOUR),
                            session("s3", 1, D1 + 5 * HOUR, HOUR))]


@scenario("simulation is credited up to 50% of the practical requirement")
def simulation_cap() -> tuple[Chain, list[Tx]]:
    chain = world()
    return chain, [sessions(chain, session("m1", 1, D1, 90 * 60, mode="simulation"),
                            session("m2", 1, D1 + 2 * HOUR, HOUR, mode="simulation"),
                            session("m3", 1, D1 + 4 * HOUR, HOUR, mode="simulation"))]


@scenario("face checks: credit stops at the last passed check before a gap; none: no credit")
def face_checks() -> tuple[Chain, list[Tx]]:
    chain = world()
    gap = [[D1, h("a"), True], [D1 + 1800, h("b"), True], [D1 + 2400, h("c"), False]]
    return chain, [sessions(chain, session("f1", 1, D1, 2 * HOUR, captures=gap),
                            session("f2", 2, D1, HOUR, captures=[[D1, h("x"), False]]))]


@scenario("duplicate session id, outside the class period, simulation not allowed")
def session_rules() -> tuple[Chain, list[Tx]]:
    chain = world()
    chain.run([chain.tx(PROVIDER, "enrolment.open_class",
                        open_class_body("e1", occ=H.OCC_NOSIM, start=T0))])
    chain.run([chain.tx(PROVIDER, "enrolment.enrol", enrol_body("e1", [1]))])
    chain.run([sessions(chain, session("s1", 1, D1, HOUR))])
    return chain, [sessions(chain, session("s1", 1, D1 + 2 * HOUR, HOUR),
                            session("s5", 2, T0 - 2 * HOUR, HOUR),
                            session("s6", 1, D1 + 4 * HOUR, HOUR, class_id="e1",
                                    mode="simulation"))]


@scenario("a correction voids a session; the interval can then be used again")
def correction() -> tuple[Chain, list[Tx]]:
    chain = world()
    chain.run([sessions(chain, session("s1", 1, D1, HOUR))])
    return chain, [chain.tx(PROVIDER, "learning.correct_session", ["s1", "clock_error", h("n")]),
                   sessions(chain, session("s1b", 1, D1, HOUR))]


# -- settlement -----------------------------------------------------------------------------
@scenario("a claim with complete hours: filed, approved, publicised and paid after publicity")
def claim_paid() -> tuple[Chain, list[Tx]]:
    chain = world()
    cert = claimable(chain)
    filing = file_tx(chain, 1, cert)
    chain.run([filing])
    cid = chain.hash_of(filing)
    chain.run([chain.tx(BUREAU, "settlement.approve_claim", [cid])])
    chain.run([chain.tx(BUREAU, "settlement.publicise_claim", [cid])])
    chain.run([], advance_s=5 * DAY)
    return chain, [chain.tx(BUREAU2, "settlement.pay_claim", [cid, h("pay")]),
                   chain.tx(BUREAU, "settlement.pay_claim", [cid, h("pay")])]


@scenario("hours short with a certificate: 100 yuan per 8-hour day, at most 60%")
def claim_shortfall() -> tuple[Chain, list[Tx]]:
    chain = world()
    chain.run([sessions(chain, *[session(f"d{d}", 1, D1 + d * DAY, 8 * HOUR) for d in range(3)])])
    chain.run([chain.tx(BUREAU, "learning.issue_certificate",
                        certificate_body("s", 1, date=chain.time))])
    return chain, [file_tx(chain, 1, h("cert-s"))]


@scenario("one person, one occupation and level: a second claim is already_subsidised")
def already_subsidised() -> tuple[Chain, list[Tx]]:
    chain = world()
    chain.run([chain.tx(PROVIDER, "enrolment.open_class", open_class_body("c3"))])
    chain.run([chain.tx(PROVIDER, "enrolment.enrol", enrol_body("c3", [1]))])
    cert = claimable(chain)
    chain.run([file_tx(chain, 1, cert)])
    chain.run([chain.tx(BUREAU, "learning.issue_certificate",
                        certificate_body("again", 1, date=chain.time))])
    return chain, [chain.tx(ORGANIZER, "settlement.file_claim",
                            [trainee(1), "c3", h("cert-again"), "unemployment_insurance"])]


@scenario("the fund cannot reserve more than its budget")
def fund_exhausted() -> tuple[Chain, list[Tx]]:
    chain = Chain(genesis=H.make_genesis(budget_fen=H.STANDARD_FEN + 1))
    chain.run([chain.tx(PROVIDER, "enrolment.open_class", open_class_body())])
    chain.run([chain.tx(PROVIDER, "enrolment.enrol", enrol_body("c1", [1, 2]))])
    chain.run([], advance_s=30 * DAY)
    first, second = claimable(chain, 1), claimable(chain, 2)
    return chain, [file_tx(chain, 1, first), file_tx(chain, 2, second)]


@scenario("special group: living allowance from the employment subsidy fund; others refused")
def special_group() -> tuple[Chain, list[Tx]]:
    chain = world(eligible_groups=["poor_rural_labourer"])
    cert1, cert2 = claimable(chain, 1), claimable(chain, 2)
    chain.run([chain.tx(BUREAU, "enrolment.attest_category",
                        [trainee(1), "poor_rural_labourer", h("e"), T0, T0 + 365 * DAY])])
    return chain, [file_tx(chain, 1, cert1), file_tx(chain, 2, cert2)]


@scenario("an objection during publicity sends the claim back to review")
def objection() -> tuple[Chain, list[Tx]]:
    chain = world()
    filing = file_tx(chain, 1, claimable(chain))
    chain.run([filing])
    cid = chain.hash_of(filing)
    chain.run([chain.tx(BUREAU, "settlement.approve_claim", [cid])])
    chain.run([chain.tx(BUREAU, "settlement.publicise_claim", [cid])])
    return chain, [chain.tx(BUREAU, "settlement.object_claim", [cid, h("letter")]),
                   chain.tx(BUREAU, "settlement.pay_claim", [cid, h("pay")])]


# -- envelope, permissions, governance --------------------------------------------------
@scenario("replay, expiry, permission, unknown kind and bad body rejections")
def envelope() -> tuple[Chain, list[Tx]]:
    chain = Chain()
    ok = chain.tx(ADMIN, "registry.suspend_actor", ["platform-b", "audit"])
    return chain, [ok, ok,
                   chain.tx(ADMIN, "registry.reinstate_actor", ["platform-b"], expires=0),
                   chain.tx(ADMIN, "registry.reinstate_actor", ["platform-b"], expires=5000),
                   chain.tx(PROVIDER, "registry.set_fund", ["360100", "employment_subsidy", 1]),
                   chain.tx(ADMIN, "registry.teleport", []),
                   chain.tx(ADMIN, "registry.reinstate_actor", [7]),
                   chain.tx(PROVIDER2, "enrolment.open_class", open_class_body("z"))]


@scenario("personal data in free text (an ID number, a mobile number in fullwidth digits, a "
          "card number) is rejected with personal_data; near misses are accepted")
def personal_data() -> tuple[Chain, list[Tx]]:
    chain = world()
    leaky = session("s-leak", 1, D1 + HOUR, HOUR)
    leaky[3] = "第3课 电话１３８ １２３４ ５６７８"
    return chain, [
        chain.tx(ADMIN, "registry.suspend_actor", ["platform-b", "身份证 36010219900101123X"]),
        sessions(chain, leaky),
        chain.tx(ADMIN, "registry.register_actor",
                 ["platform-z", "provider", "平台 6222 0212 3456 7890 128", "360100", [pub(70)]]),
        chain.tx(ADMIN, "registry.suspend_actor",
                 ["platform-b", "audit 2024-01-15 2024-02-15, ref 12812345678"]),
    ]


@scenario("a validator added by 3 of 4 bureaus (2f+1) takes effect two heights later")
def validator_add() -> tuple[Chain, list[Tx]]:
    chain = Chain()
    propose = chain.tx(BUREAU, "registry.propose_validator_change",
                       ["add", pub(60), "v-new", "360200"])
    chain.run([propose])
    pid = chain.hash_of(propose)
    chain.run([chain.tx(BUREAU2, "registry.approve_validator_change", [pid])])
    return chain, [chain.tx(BUREAU3, "registry.approve_validator_change", [pid])]


# -- writing ---------------------------------------------------------------------------------------
def expected_of(receipt: Receipt) -> dict[str, Any]:
    out: dict[str, Any] = {"status": receipt.status, "code": receipt.code}
    if any(e.kind in ("learning.session_credited", "learning.session_rejected")
           for e in receipt.events):
        out["session_codes"] = H.codes_of(receipt)
    return out


def build(name: str) -> dict[str, Any]:
    description, fn = SCENARIOS[name]
    chain, final = fn()
    pre = state_digest(chain.base)
    receipts = chain.run(final)
    return {
        "name": name,
        "description": description,
        "genesis": H.genesis_doc(**_genesis_args(chain)),
        "blocks": [{"height": height, "time": time_s, "txs": [t.encode().hex() for t in txs]}
                   for height, time_s, txs in chain.blocks],
        "pre_state_digest": pre.hex(),
        "expected": [expected_of(r) for r in receipts],
        "post_state_digest": state_digest(chain.base).hex(),
    }


def _genesis_args(chain: Chain) -> dict[str, Any]:
    budget = chain.genesis.funds[0].budget_fen
    return {"budget_fen": budget, **chain.policy_changes}


def main() -> None:
    VECTORS.mkdir(exist_ok=True)
    for name in SCENARIOS:
        path = VECTORS / f"{name}.json"
        path.write_text(json.dumps(build(name), indent=1, ensure_ascii=False) + "\n")
        print(path)


if __name__ == "__main__":
    main()
