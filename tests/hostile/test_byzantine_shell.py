"""Findings 2-4 of issue 13 over real processes: one scripted Byzantine validator of four.

Four validators on loopback; the fourth validator's node is replaced by a
``ByzPeer`` holding its real key (``tests/hostile/byzpeer.py``), so the
three honest nodes are a bare quorum and every lie is signed by a key inside
the validator set (within f). The three honest nodes must hold:

* ``test_tampered_catch_up_does_not_stop_a_catching_up_node`` (finding 2):
  a node whose database is wiped (its ``consensus.wal`` kept) restarts while
  the peer answers its catch-up requests with genuinely certified blocks
  carrying one tx with a flipped signature. It must stay up (no exit 70),
  reach the others' height from the honest peers, and record the fault
  against the Byzantine key in ``/metrics`` (``skillchain_peer_faults_total``).
* ``test_catch_up_amplification_is_bounded`` (finding 3): the peer sends
  CatchUpRequests from heights 1 and 2, alternating, as fast as the links
  take them, and never reads its links from the honest nodes. Under a steady
  signed load of ``RATE_PER_S`` txs/s, each honest node's RSS may grow at
  most 256 MiB, and the txs acknowledged as committed during the attack must
  be at least 0.8 of those in a window of the same length with the same
  peer connected but passive.
* ``test_evidence_flood_is_bounded_and_survives_a_restart`` (finding 4): the
  peer signs two conflicting PREPAREs and COMMITs for every view the replicas
  accept at their current height. ``/v1/evidence`` must stay within the
  documented cap (``node/evidence.py``; 1,024 if none is named), hold the
  flood (at least one entry), and hold at least as many entries after a
  restart of that node (evidence is persisted, not kept in memory only).

Timing is event-based with generous limits; the machine is shared.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.hostile.byzpeer import ByzNet, evidence_cap, evidence_entries, peer_faults

VICTIM = 1
RATE_PER_S = 20.0
AMPLIFY_S = 20.0
FLOOD_S = 15.0
CATCH_UP_LIMIT_S = 90.0
RSS_GROWTH_LIMIT_MIB = 256
COMMIT_SHARE_MIN = 0.8


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    made = ByzNet(tmp_path_factory.mktemp("byzshell"), 4)
    try:
        made.start(prefill_height=30)
        yield made
    finally:
        made.close()


def report(name: str, figures: dict) -> None:
    print(json.dumps({name: figures}))


def wait_caught_up(net: ByzNet, node: int, target: int, limit_s: float) -> float | None:
    """Seconds until ``node`` holds ``target``; None if it stopped or ran out of time."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if not net.alive(node):
            return None
        status = net.status(node)
        if status is not None and status["height"] >= target:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def test_tampered_catch_up_does_not_stop_a_catching_up_node(net):
    byz = net.byzantine("tamper_catchup", victims=[VICTIM])
    try:
        target = net.head(net.honest)
        net.wipe_and_restart(VICTIM)
        seconds = wait_caught_up(net, VICTIM, target, CATCH_UP_LIMIT_S)
        alive, code = net.alive(VICTIM), net.exit_code(VICTIM)
        faults = peer_faults(net.urls[VICTIM], net.byz_key) if alive else {}
        tail = net.log_tail(VICTIM)
    finally:
        stats = byz.stop()
        net.ensure_running(VICTIM)
    report(
        "tampered_catch_up",
        {"target": target, "catch_up_s": seconds, "alive": alive, "exit_code": code,
         "faults_against_byzantine": faults, "peer": stats},
    )
    assert stats.get("tampered_answers", 0) >= 1, f"no forged answer was sent: {stats}"
    assert alive, f"the catching-up node stopped (exit {code}):\n{tail}"
    assert seconds is not None, f"not back at height {target} in {CATCH_UP_LIMIT_S} s:\n{tail}"
    assert sum(faults.values()) >= 1, f"no fault recorded against the Byzantine key: {faults}"


def test_catch_up_amplification_is_bounded(net):
    passive = net.byzantine("passive")
    try:
        baseline = net.window(AMPLIFY_S, RATE_PER_S)
    finally:
        passive.stop()
    attacker = net.byzantine("amplify")
    try:
        attack = net.window(AMPLIFY_S, RATE_PER_S)
    finally:
        stats = attacker.stop()
        recovered = net.settle()
    share = attack.load.acked_in_window / max(1, baseline.load.acked_in_window)
    report(
        "amplification",
        {"baseline_acked": baseline.load.acked_in_window,
         "attack_acked": attack.load.acked_in_window, "commit_share": round(share, 3),
         "baseline_heights": baseline.heights_advanced, "attack_heights": attack.heights_advanced,
         "rss_start_mib": attack.rss_start, "rss_max_mib": attack.rss_max,
         "rss_growth_mib": attack.rss_growth_mib, "recovered_without_restart": recovered,
         "peer": stats},
    )
    assert stats.get("amplify_requests", 0) > 0, f"no request was sent: {stats}"
    assert all(net.alive(i) for i in net.honest), "an honest node stopped"
    assert baseline.load.acked_in_window >= 0.5 * RATE_PER_S * AMPLIFY_S, baseline.load
    assert attack.rss_growth_mib <= RSS_GROWTH_LIMIT_MIB, attack.rss_max
    assert share >= COMMIT_SHARE_MIN, (baseline.load, attack.load)


def test_evidence_flood_is_bounded_and_survives_a_restart(net):
    cap = evidence_cap()
    flood = net.byzantine("evidence_flood")
    try:
        net.window(FLOOD_S, RATE_PER_S / 2, grace_s=0)  # a light load keeps heights moving
    finally:
        stats = flood.stop()
    counts = {i: len(evidence_entries(net.urls[i]) or []) for i in net.honest}
    net.restart(net.honest[0])
    after = len(evidence_entries(net.urls[net.honest[0]]) or [])
    report(
        "evidence_flood",
        {"cap": cap, "entries": counts, "after_restart": after, "peer": stats},
    )
    assert stats.get("conflicting_votes", 0) > 0, f"no vote was sent: {stats}"
    assert max(counts.values()) <= cap, counts
    assert min(counts.values()) >= 1, f"the flood left no evidence: {counts}"
    assert after >= counts[net.honest[0]], f"evidence lost on restart: {counts} -> {after}"
