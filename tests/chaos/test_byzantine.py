"""One Byzantine validator of four (f = 1), in each mode: the honest three keep committing.

``SKILLCHAIN_BYZANTINE=<mode>`` (``node.byzantine``) makes validator 3 lie on
the wire while its honest replica keeps up underneath. With it in place the
test drives a signed load through the honest nodes only and requires:

* progress — every honest node advances well past the height the mode was
  switched on at (the Byzantine node is primary at every 4th height, so it
  gets several chances to equivocate), and clients get commit acks;
* safety — the honest nodes agree on every block hash and state root, every
  acknowledged tx is in the chain exactly once, and no validator appears in
  two commit certificates for different blocks at one (height, view);
* accountability — the modes that sign two conflicting statements
  (``wrong_root``: two votes; ``equivocate``: two proposals, caught through
  the replicas' ``ProposalSeen`` relays) show up in the honest nodes' evidence.
"""

from __future__ import annotations

import time

import pytest

from chain.crypto import get_suite
from cli.devnet import node_status
from consensus import PrePrepare, decode_message, is_valid_proposal_evidence, sign_message
from consensus.messages import seen_proposal
from node.byzantine import Byzantine
from tests.chaos.checks import check_chains
from tests.chaos.harness import ChaosNet, Load
from tests.consensus.toyapp import ToyApp

BYZANTINE = 3
HONEST = [0, 1, 2]
MODES = ("equivocate", "wrong_root", "absurd_view", "replay", "garbage")
SIGNS_CONFLICTS = {"wrong_root", "equivocate"}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    chaos = ChaosNet(tmp_path_factory.mktemp("byz"), 4)
    chaos.start_all()
    yield chaos
    chaos.close()


def honest_evidence(net: ChaosNet) -> int:
    return sum(node_status(net.urls[i])["evidence"] for i in HONEST)


def run_byzantine(net: ChaosNet, mode: str, blocks: int = 10) -> tuple[set[str], int]:
    """Make validator 3 misbehave in ``mode`` while honest nodes commit ``blocks`` blocks.

    Returns the acknowledged tx hashes and the evidence count before the run.
    """
    net.kill(BYZANTINE)
    net.start(BYZANTINE, {"SKILLCHAIN_BYZANTINE": mode})
    evidence_before = honest_evidence(net)
    start = max(node_status(net.urls[i])["height"] for i in HONEST)
    load = Load(net, clients=3, pause_s=0.02, seed=MODES.index(mode), nodes=HONEST)
    load.start()
    try:
        net.cluster.wait_height(start + blocks, nodes=HONEST, timeout_s=90)
        # A liar whose turns failed is passed over (leader reputation), so the honest
        # nodes may commit those blocks before it is even back in step: for the modes
        # that sign conflicts, keep the load on until its lies reach them.
        deadline = time.monotonic() + 60
        while mode in SIGNS_CONFLICTS and honest_evidence(net) <= evidence_before and (
                time.monotonic() < deadline):
            time.sleep(0.5)
    finally:
        load.stop()
    return set(load.acked), evidence_before


@pytest.mark.parametrize("mode", MODES)
def test_honest_nodes_keep_committing_with_one_byzantine(net, mode):
    acked, evidence_before = run_byzantine(net, mode)
    report = check_chains(net.urls, acked, nodes=HONEST)
    assert report.acked > 0, report.summary()
    assert report.divergent_heights == [], report.summary()
    assert report.lost == [] and report.double_applied == [], report.summary()
    assert report.conflicting_certificates == 0, report.summary()
    if mode in SIGNS_CONFLICTS:
        assert honest_evidence(net) > evidence_before, f"{mode}: no evidence recorded"
    # Back to honest for the next mode.
    net.kill(BYZANTINE)
    net.start(BYZANTINE)


def test_equivocate_mode_sends_two_signed_proposals_to_different_peers():
    """The mode really equivocates: two blocks, both validly signed, split between peers."""
    suite = get_suite("ed25519-sha256")
    signers = [suite.signer_from_seed(bytes([i + 1]) * 32) for i in range(4)]
    liar = Byzantine(suite, "byz-test", signers[0], {"equivocate"})
    liar.peers = sorted(s.public_key for s in signers[1:])
    app = ToyApp(suite, "byz-test", signers[0].public_key)
    block = app.build(1, 0, bytes(32))
    pp = sign_message(signers[0], "byz-test", PrePrepare(1, 0, block, b"", b""))
    out = liar.outgoing(pp, None)
    assert sorted(peer for peer, _ in out) == liar.peers
    sent = {peer: decode_message(frame[1]) for peer, frame in out}
    seen = {seen_proposal(suite, msg) for msg in sent.values()}
    assert len(seen) == 2
    a, b = sorted(seen, key=lambda x: x.block_hash)
    assert is_valid_proposal_evidence(suite, "byz-test", a, b)
