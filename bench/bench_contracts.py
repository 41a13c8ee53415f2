"""Contract execution benchmark: `python -m bench.bench_contracts`.

Executes realistic blocks through the contracts in one process (signatures
excluded; the node verifies them before execution) and prints one JSON line:

* ``sessions_per_s``: learning sessions credited per second, 100 sessions per
  tx, 20 txs per block, each session of a different trainee (near-real-time
  uploads: the worst case, every session touches its own enrolment and day
  log); the time covers ``execute_block`` and encoding the block's change set
  (``Overlay.changes``). ``sessions_per_s_4_per_trainee``: the same with each
  trainee's four sessions of a half-day uploaded together. Times are CPU
  time of this process (``time.process_time``: the budget is one core, and the
  development machine is shared, so wall time measures the neighbours), and
  session rates use the median of 10 blocks, claim rates the best of 3 runs.
  The synced LevelDB write's wait for the disk is therefore not counted.
* ``claims_per_s``: claims settled per second, each through file, approve,
  publicise and pay (four txs in four blocks).

When ``storage.state_tree.StateTree`` is importable, each timed block's
changes are also computed into the authenticated tree and written to a
temporary LevelDB (opened with the node's options) in one synced batch, as the
node does per block: the
headline ``sessions_per_s`` and ``claims_per_s`` then include the tree, and
``*_contracts_only`` give the contracts alone (``state_tree_included`` says
which). The tree is seeded with the whole pre-state before timing starts.

Profiling: ``python -m bench.bench_contracts --profile [--state-keys 100000]``
runs only the session blocks with the tree, each phase timed on its own
(execute, change encoding, tree compute, tree write; medians, CPU time), then
prints cProfile's top functions of the same blocks, all on stderr.
``--state-keys`` pads the pre-state with filler keys so the tree has a
realistic size (the default workload's state is only ~8,000 keys).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chain.types import Tx, tx_hash
from contracts import BlockContext, DictState, Overlay, execute_block
from tests.contracts.helpers import (
    BUREAU,
    CHAIN_ID,
    DAY,
    HOUR,
    ORGANIZER,
    PROVIDER,
    SUITE,
    T0,
    Chain,
    certificate_body,
    enrol_body,
    h,
    make_genesis,
    open_class_body,
    pub,
    session,
    trainee,
)

SESSIONS_PER_TX = 100
TXS_PER_BLOCK = 20
STORE_DB_OPTIONS: dict[str, Any] = {
    "bloom_filter_bits": 10, "lru_cache_size": 64 << 20, "write_buffer_size": 32 << 20,
    "compression": None,
}
"""LevelDB options as ``storage.store`` opens a node's database (keep the two in step):
with LevelDB's 4 MiB default write buffer every block would flush and compact, CPU
this process time counts but a node does not spend."""


def _try_state_tree() -> Any:
    try:
        from storage.state_tree import StateTree
    except ImportError:  # the storage work may not be there yet
        return None
    return StateTree


class TreeSink:
    """Computes each block's changes into the state tree and writes one synced batch."""

    def __init__(self, tree_cls: Any, directory: str) -> None:
        import plyvel

        self.db = plyvel.DB(str(Path(directory) / "db"), create_if_missing=True, **STORE_DB_OPTIONS)
        self.namespace = self.db.prefixed_db(b"s/")
        self.tree = tree_cls(self.namespace, SUITE)
        self.version = 0

    def seed(self, state: DictState, height: int) -> None:
        self(height, dict(sorted(state.data.items())))

    def __call__(self, height: int, changes: dict[bytes, bytes | None]) -> None:
        update = self.tree.compute(self.version, height, changes)
        with self.namespace.write_batch(sync=True) as batch:
            self.tree.write(update, batch)
        self.version = height

    def close(self) -> None:
        self.db.close()


def setup(trainees: int, classes: int) -> Chain:
    chain = Chain(genesis=make_genesis(budget_fen=10**11, daily_cap_seconds=24 * HOUR))
    per_class = trainees // classes
    for c in range(classes):
        chain.send(PROVIDER, "enrolment.open_class",
                   open_class_body(f"c{c}", end=T0 + 300 * DAY))
        ids = list(range(c * per_class, (c + 1) * per_class))
        for i in range(0, len(ids), 500):
            r = chain.send(PROVIDER, "enrolment.enrol", enrol_body(f"c{c}", ids[i:i + 500]))
            assert r.code == "", r
    chain.run([], advance_s=200 * DAY)
    return chain


def make_session_txs(
    chain: Chain, trainees: int, classes: int, round_no: int, per_trainee: int
) -> list[Tx]:
    """Each tx: 100 sessions of 25 minutes (one passed face check at the start), of
    100 / per_trainee trainees, each with ``per_trainee`` consecutive sessions."""
    per_class = trainees // classes
    txs = []
    for t in range(TXS_PER_BLOCK):
        items = []
        for j in range(SESSIONS_PER_TX):
            who = (t * SESSIONS_PER_TX + j) // per_trainee % trainees
            k = j % per_trainee
            start = T0 + DAY + (round_no * per_trainee + k) * 1800
            items.append(session(f"r{round_no}-{who}-{k}", who, start, 1500,
                                 class_id=f"c{who // per_class}"))
        txs.append(chain.tx(PROVIDER, "learning.record_sessions", [items],
                            expires=chain.height + 500))
    return txs


def run_block(chain: Chain, txs: list[Tx], tree: Any) -> tuple[float, list]:
    hashes = [(t, tx_hash(SUITE, t)) for t in txs]
    chain.height += 1
    chain.time += 5
    began = time.process_time()
    state = Overlay(chain.base)
    receipts = execute_block(state, BlockContext(chain.height, chain.time, pub(1)), hashes)
    changes = state.changes()
    if tree is not None:
        tree(chain.height, changes)
    elapsed = time.process_time() - began
    chain.base.apply(changes)
    return elapsed, receipts


def bench_sessions(
    tree: Any, per_trainee: int = 1, trainees: int = 2000, classes: int = 4, blocks: int = 10
) -> float:
    """Sessions credited per second; ``per_trainee`` sessions of one trainee per tx."""
    trainees //= per_trainee
    chain = setup(trainees, classes)
    if tree is not None:
        tree.seed(chain.base, chain.height)
    times, credited = [], 0
    for round_no in range(blocks):
        txs = make_session_txs(chain, trainees, classes, round_no, per_trainee)
        elapsed, receipts = run_block(chain, txs, tree)
        times.append(elapsed)
        for receipt in receipts:
            credited += sum(e.kind == "learning.session_credited" for e in receipt.events)
    expected = blocks * TXS_PER_BLOCK * SESSIONS_PER_TX
    if credited != expected:
        raise SystemExit(f"benchmark workload broke a rule: {credited} of {expected} credited")
    return TXS_PER_BLOCK * SESSIONS_PER_TX / statistics.median(times)


def profile_sessions(state_keys: int, blocks: int = 10, top: int = 25) -> None:
    """Per-phase medians of the session blocks with the tree, then a cProfile of them."""
    tree_cls = _try_state_tree()
    if tree_cls is None:
        raise SystemExit("the profile needs storage.state_tree")
    trainees, classes = 2000, 4
    with tempfile.TemporaryDirectory() as directory:
        sink = TreeSink(tree_cls, directory)
        chain = setup(trainees, classes)
        for i in range(state_keys):
            chain.base.data[b"filler/%d" % i] = b"x" * 60
        sink.seed(chain.base, chain.height)
        phases: dict[str, list[float]] = {"execute": [], "changes": [], "compute": [], "write": []}
        profiler = cProfile.Profile()
        for round_no in range(2 * blocks):
            txs = make_session_txs(chain, trainees, classes, round_no, 1)
            hashes = [(t, tx_hash(SUITE, t)) for t in txs]
            chain.height += 1
            chain.time += 5
            profiling = round_no >= blocks
            if profiling:
                profiler.enable()
            marks = [time.process_time()]
            state = Overlay(chain.base)
            execute_block(state, BlockContext(chain.height, chain.time, pub(1)), hashes)
            marks.append(time.process_time())
            changes = state.changes()
            marks.append(time.process_time())
            update = sink.tree.compute(sink.version, chain.height, changes)
            marks.append(time.process_time())
            with sink.namespace.write_batch(sync=True) as batch:
                sink.tree.write(update, batch)
            sink.version = chain.height
            marks.append(time.process_time())
            if profiling:
                profiler.disable()
            else:
                for name, began, ended in zip(phases, marks, marks[1:]):  # noqa: B905
                    phases[name].append(ended - began)
            chain.base.apply(changes)
        keys = len(chain.base.data)
        sink.close()
    sessions = TXS_PER_BLOCK * SESSIONS_PER_TX
    total = sum(statistics.median(times) for times in phases.values())
    sys.stderr.write(f"{keys} state keys, {sessions} sessions per block, medians of {blocks}:\n")
    for name, times in phases.items():
        median = statistics.median(times)
        per_session_us = median / sessions * 1e6
        sys.stderr.write(f"  {name:8} {median * 1e3:7.1f} ms  {per_session_us:6.1f} us/session\n")
    sys.stderr.write(f"  total    {total * 1e3:7.1f} ms  {sessions / total:8.0f} sessions/s\n\n")
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(top)


def bench_claims(tree: Any, claims: int = 400) -> float:
    chain = setup(claims, 1)
    day = T0 + DAY
    for i in range(0, claims, 50):   # complete hours: 4 h theory, 2 h simulation, 2 h offline
        items = []
        for who in range(i, min(i + 50, claims)):
            for k, (offset, mode) in enumerate(((0, "recorded"), (2 * HOUR, "recorded"),
                                                (4 * HOUR, "simulation"))):
                items.append(session(f"q{who}-{k}", who, day + offset, 2 * HOUR,
                                     class_id="c0", mode=mode))
        chain.run([chain.tx(PROVIDER, "learning.record_sessions", [items])])
        offline = [chain.tx(BUREAU, "learning.record_offline_practice",
                            [f"o{w}", trainee(w), "c0", day + DAY, day + DAY + 2 * HOUR,
                             2 * HOUR, h(f"o{w}")]) for w in range(i, min(i + 50, claims))]
        certs = [chain.tx(BUREAU, "learning.issue_certificate",
                          certificate_body(f"b{w}", w, date=day + 2 * DAY))
                 for w in range(i, min(i + 50, claims))]
        chain.run(offline + certs)
    chain.run([], advance_s=10 * DAY)
    if tree is not None:
        tree.seed(chain.base, chain.height)
    files = [chain.tx(ORGANIZER, "settlement.file_claim",
                      [trainee(w), "c0", h(f"cert-b{w}"), "unemployment_insurance"])
             for w in range(claims)]
    ids = [tx_hash(SUITE, t) for t in files]
    total_s = 0.0
    steps: list[tuple[str, Any, int]] = [
        ("settlement.approve_claim", lambda c: [c], 60),
        ("settlement.publicise_claim", lambda c: [c], 60),
        ("settlement.pay_claim", lambda c: [c, h("pay")], 6 * DAY),
    ]
    elapsed, receipts = run_block(chain, files, tree)
    total_s += elapsed
    bad = [r.code for r in receipts if r.code]
    for kind, body, advance in steps:
        chain.time += advance
        txs = [chain.tx(BUREAU, kind, body(c)) for c in ids]
        elapsed, receipts = run_block(chain, txs, tree)
        total_s += elapsed
        bad += [r.code for r in receipts if r.code]
    if bad:
        raise SystemExit(f"claims benchmark rejected: {sorted(set(bad))}")
    return claims / total_s


def with_tree(tree_cls: Any, bench: Any) -> float:
    with tempfile.TemporaryDirectory() as directory:
        sink = TreeSink(tree_cls, directory)
        try:
            return bench(sink)
        finally:
            sink.close()


def best_of(runs: int, bench: Any) -> float:
    return max(bench() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", action="store_true",
                        help="phase timings and a cProfile of the session blocks (stderr)")
    parser.add_argument("--state-keys", type=int, default=0,
                        help="filler keys added to the pre-state (with --profile)")
    args = parser.parse_args()
    if args.profile:
        profile_sessions(args.state_keys)
        return
    tree_cls = _try_state_tree()
    sessions_only = bench_sessions(None)
    daily_only = bench_sessions(None, per_trainee=4)
    claims_only = best_of(3, lambda: bench_claims(None))
    result: dict[str, Any] = {}
    if tree_cls is not None:
        result["sessions_per_s"] = round(with_tree(tree_cls, bench_sessions))
        result["sessions_per_s_4_per_trainee"] = round(
            with_tree(tree_cls, lambda sink: bench_sessions(sink, per_trainee=4)))
        result["claims_per_s"] = round(best_of(3, lambda: with_tree(tree_cls, bench_claims)))
    else:
        result["sessions_per_s"] = round(sessions_only)
        result["sessions_per_s_4_per_trainee"] = round(daily_only)
        result["claims_per_s"] = round(claims_only)
    result.update({
        "sessions_per_s_contracts_only": round(sessions_only),
        "sessions_per_s_4_per_trainee_contracts_only": round(daily_only),
        "claims_per_s_contracts_only": round(claims_only),
        "sessions_per_tx": SESSIONS_PER_TX,
        "state_tree_included": tree_cls is not None,
        "signatures_included": False,
        "chain_id": CHAIN_ID,
    })
    sys.stderr.write("bench_contracts: one process, one core, signatures excluded\n")
    sys.stderr.flush()
    print(json.dumps(result))

if __name__ == "__main__":
    main()
