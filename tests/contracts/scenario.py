"""A mixed block used by the determinism tests (and runnable as a script)."""

from __future__ import annotations

import sys

from chain.types import tx_hash
from contracts import BlockContext, DictState, Overlay, execute_block
from tests.contracts.helpers import (
    BUREAU,
    DAY,
    HOUR,
    ORGANIZER,
    PROVIDER,
    PROVIDER2,
    SUITE,
    T0,
    Chain,
    certificate_body,
    enrol_body,
    h,
    offline_body,
    open_class_body,
    pub,
    session,
    trainee,
)

D1 = T0 + 2 * DAY


def prepared() -> Chain:
    chain = Chain()
    chain.run([
        chain.tx(PROVIDER, "enrolment.open_class", open_class_body()),
        chain.tx(PROVIDER2, "enrolment.open_class", open_class_body("c2")),
    ])
    chain.run([chain.tx(PROVIDER, "enrolment.enrol", enrol_body("c1", list(range(20)))),
               chain.tx(PROVIDER2, "enrolment.enrol", enrol_body("c2", list(range(20))))])
    chain.run([], advance_s=30 * DAY)
    return chain


def block_txs(chain: Chain) -> list:
    a = [session(f"a{n}", n, D1 + (n % 3) * 600, 4 * HOUR) for n in range(20)]
    a += [session(f"a{n}-sim", n, D1 + DAY, 3 * HOUR, mode="simulation") for n in range(20)]
    b = [session(f"b{n}", n, D1 + 1800, HOUR, class_id="c2") for n in range(20)]
    b += [session(f"b{n}-2", n, D1 + 2 * DAY, 2 * HOUR, class_id="c2") for n in range(20)]
    txs = [chain.tx(PROVIDER, "learning.record_sessions", [a]),
           chain.tx(PROVIDER2, "learning.record_sessions", [b])]
    txs += [chain.tx(BUREAU, "learning.record_offline_practice",
                     offline_body(f"o{n}", n, D1 + 3 * DAY, 2 * HOUR)) for n in range(5)]
    txs += [chain.tx(BUREAU, "learning.issue_certificate",
                     certificate_body(f"c{n}", n, date=chain.time)) for n in range(5)]
    txs += [chain.tx(ORGANIZER, "settlement.file_claim",
                     [trainee(n), "c1", h(f"cert-c{n}"), "unemployment_insurance"])
            for n in range(5)]
    return txs


def run_fresh() -> bytes:
    """Build the pre-state from scratch, execute the block, return the change-set bytes."""
    chain = prepared()
    txs = block_txs(chain)
    state = Overlay(DictState(dict(chain.base.data)))
    ctx = BlockContext(chain.height + 1, chain.time + 60, pub(1))
    receipts = execute_block(state, ctx, [(t, tx_hash(SUITE, t)) for t in txs])
    digest = SUITE.hash(state.digest_bytes() + b"".join(r.encode() for r in receipts))
    return digest


if __name__ == "__main__":
    sys.stdout.write(run_fresh().hex())
