"""A body parsed at admission and handed to ``execute_block`` changes nothing but the time.

``parse_body`` is pure in (kind, body) and the tx hash covers both, so executing a
block with the admission's parsed bodies must give the same receipts and the same
state changes as parsing every body again; bodies that did not parse are never
handed in, and an object of the wrong type is ignored.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chain.types import Tx, tx_hash
from contracts import BlockContext, ContractError, Overlay, execute_block, parse_body
from contracts.kinds import RecordSessions
from tests.contracts.helpers import (
    BUREAU,
    DAY,
    PROVIDER,
    SUITE,
    T0,
    VALIDATORS,
    Chain,
    pub,
    session,
    sessions_body,
    world,
)


def _block(chain: Chain) -> list[Tx]:
    """Accepted, rule-rejected, bad-body, unknown-kind and not-permitted txs."""
    day = T0 + 2 * DAY
    good = sessions_body(*(session(f"s{i}", 1 + i % 3, day + i * 1800, 1500) for i in range(9)))
    overlap = sessions_body(session("dup", 1, day, 1500))  # same trainee, same time
    bad = sessions_body(session("bad", 1, day, 1500, mode="teleport"))
    return [
        chain.tx(PROVIDER, "learning.record_sessions", good),
        chain.tx(PROVIDER, "learning.record_sessions", overlap),
        chain.tx(PROVIDER, "learning.record_sessions", bad),
        chain.tx(PROVIDER, "learning.no_such_kind", []),
        chain.tx(BUREAU, "learning.record_sessions", good),
    ]


def _admitted_bodies(txs: list[Tx]) -> dict[bytes, object]:
    """What an admission keeps: the parsed body of every tx whose body parses."""
    bodies: dict[bytes, object] = {}
    for tx in txs:
        with contextlib.suppress(ContractError):  # a failed parse is a refusal
            bodies[tx_hash(SUITE, tx)] = parse_body(tx.kind, tx.body)
    return bodies


def _execute(chain: Chain, txs: list[Tx], parsed: Any) -> tuple[list, dict]:
    state = Overlay(chain.base)
    ctx = BlockContext(chain.height + 1, chain.time + 60, pub(VALIDATORS[0]))
    receipts = execute_block(state, ctx, [(t, tx_hash(SUITE, t)) for t in txs], parsed)
    return receipts, state.changes()


def test_a_block_executes_identically_with_and_without_parsed_bodies(parse_calls):
    chain = world()
    txs = _block(chain)
    bodies = _admitted_bodies(txs)
    assert len(bodies) == 3  # the bad body and the unknown kind were never cached

    parse_calls.clear()
    plain = _execute(chain, txs, None)
    parsed_plain = len(parse_calls)
    parse_calls.clear()
    reused = _execute(chain, txs, bodies.get)

    assert reused == plain
    codes = [r.code for r in plain[0]]
    assert codes == ["", "", "bad_body", "unknown_kind", "not_permitted"]
    assert [e.kind for e in plain[0][1].events] == ["learning.session_rejected"]
    assert parsed_plain == 3  # the permission check refuses the last two before parsing
    assert parse_calls == ["learning.record_sessions"]  # only the bad body, never cached


def test_a_lookup_answering_the_wrong_type_is_ignored(parse_calls):
    chain = world()
    txs = _block(chain)[:2]
    parse_calls.clear()
    plain = _execute(chain, txs, None)
    parse_calls.clear()
    assert _execute(chain, txs, lambda digest: ("not", "a", "body")) == plain
    assert len(parse_calls) == 2
    parse_calls.clear()
    wrong = parse_body("learning.correct_session", ["s0", "other", bytes(32)])
    assert _execute(chain, txs, lambda digest: wrong) == plain
    assert len(parse_calls) == 2


def test_the_reused_body_is_the_parsed_body():
    chain = world()
    tx = _block(chain)[0]
    body = _admitted_bodies([tx])[tx_hash(SUITE, tx)]
    assert isinstance(body, RecordSessions)
    assert body == parse_body(tx.kind, tx.body)
    assert body.to_wire() == tx.body
