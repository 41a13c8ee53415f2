"""Replay verifies an honest chain and stops at the first forged or damaged block."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from chain.types import Block, CommitCertificate, header_hash
from cli.jiangxi import dev_signer
from node.audit.export import export_chain
from node.audit.replay import replay
from node.audit.source import DirSource
from tests.audit.conftest import ListSource, Pair
from tests.audit.devchain import DevChain, forge_certificate

TAMPER_HEIGHT = 6


def run(chain: DevChain, pairs: list[Pair], data: Path, workers: int = 2):  # noqa: ANN201
    return replay(chain.genesis, chain.genesis_hash, ListSource(pairs), data, workers)


def test_honest_chain_verifies_every_root_and_resumes(dev_chain: DevChain, data_dir: Path):
    pairs = dev_chain.pairs()
    half = run(dev_chain, pairs[:8], data_dir)
    assert half.ok and half.head == 8 and half.resumed_from == 0
    full = run(dev_chain, pairs, data_dir)
    assert full.ok, full.mismatch
    assert full.resumed_from == 8 and full.blocks == len(pairs) - 8
    head = dev_chain.store.head
    assert full.head == head.height
    assert full.state_root == head.state_root.hex() and full.head_hash == head.block_hash.hex()
    assert half.txs + full.txs == sum(len(b.txs) for b, _ in pairs)
    assert full.rejected_txs == 2  # the two double-claim attempts, kept as evidence


def test_export_round_trip_replays_offline(dev_chain: DevChain, tmp_path: Path):
    export_chain(ListSource(dev_chain.pairs()), tmp_path / "export", dev_chain.genesis_path)
    source = DirSource(tmp_path / "export")
    report = replay(dev_chain.genesis, dev_chain.genesis_hash, source, tmp_path / "d", 1)
    assert report.ok and report.head == dev_chain.store.head.height
    assert (tmp_path / "export" / "genesis.json").exists()


def test_damaged_export_file_is_refused(dev_chain: DevChain, tmp_path: Path):
    from node.audit.errors import SourceError

    manifest = export_chain(ListSource(dev_chain.pairs()), tmp_path / "export")
    path = tmp_path / "export" / manifest["files"][0]["name"]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(SourceError, match="does not match its sha256"):
        DirSource(tmp_path / "export").fetch(1, 2)


# -- tampering: each must stop replay at the right height with the right category --------


def _flip_signature_byte(chain: DevChain, block: Block, cert: CommitCertificate) -> Pair:
    """Flip one byte of the encoded block (inside a tx signature) and decode it again."""
    raw = bytearray(block.encode())
    at = bytes(raw).index(block.txs[0].signature) + 5
    raw[at] ^= 0x01
    return Block.decode(bytes(raw)), cert


def _flip_body_byte(chain: DevChain, block: Block, cert: CommitCertificate) -> Pair:
    raw = bytearray(block.encode())
    at = bytes(raw).index(block.txs[0].sender) + 3  # the sender key: tx root must differ
    raw[at] ^= 0x01
    return Block.decode(bytes(raw)), cert


def _remove_tx(chain: DevChain, block: Block, cert: CommitCertificate) -> Pair:
    return dataclasses.replace(block, txs=block.txs[1:]), cert


def _one_signature_short(chain: DevChain, block: Block, cert: CommitCertificate) -> Pair:
    valset = chain.genesis.validator_set()
    short = forge_certificate(chain.genesis, block.header, valset.quorum - 1)
    return block, short


def _outsider_signature(chain: DevChain, block: Block, cert: CommitCertificate) -> Pair:
    """Replace one signer's signature by a valid COMMIT signature of a non-member."""
    from chain.validators import sign_commit

    outsider = dev_signer("validator/360500")  # Xinyu: a bureau outside the 4-validator set
    assert outsider.public_key not in chain.genesis.validator_set()
    forged = sign_commit(outsider, chain.genesis.chain_id, cert.height, cert.view,
                         cert.block_hash)
    return block, dataclasses.replace(cert, signatures=(forged, *cert.signatures[1:]))


def _wrong_state_root(chain: DevChain, block: Block, cert: CommitCertificate) -> Pair:
    """A header with a wrong root, signed by every validator: only re-execution can tell."""
    header = dataclasses.replace(block.header, state_root=bytes(range(32)))
    forged = forge_certificate(chain.genesis, header)  # the full set signs
    return dataclasses.replace(block, header=header), forged


Tamper = Callable[[DevChain, Block, CommitCertificate], Pair]


@pytest.mark.parametrize(
    ("tamper", "what", "detail"),
    [
        (_flip_signature_byte, "tx_signature", "bad signature"),
        (_flip_body_byte, "tx_root", "tx_root"),
        (_remove_tx, "tx_root", "tx_root"),
        (_one_signature_short, "certificate", "quorum is 3 of 4"),
        (_outsider_signature, "certificate", "does not verify"),
        (_wrong_state_root, "state_root", "state root differs after re-execution"),
    ],
)
def test_tampering_stops_replay_at_that_height(
    dev_chain: DevChain, data_dir: Path, tamper: Tamper, what: str, detail: str
):
    pairs = dev_chain.pairs()
    block, cert = pairs[TAMPER_HEIGHT - 1]
    assert cert is not None and block.txs
    pairs[TAMPER_HEIGHT - 1] = tamper(dev_chain, block, cert)
    report = run(dev_chain, pairs, data_dir)
    assert report.mismatch is not None
    assert (report.mismatch.height, report.mismatch.what) == (TAMPER_HEIGHT, what)
    assert detail in report.mismatch.detail
    assert report.mismatch.signers  # who vouched for the bad block is named
    assert report.head == TAMPER_HEIGHT - 1  # everything before it verified and was kept


def test_two_swapped_blocks_are_caught(dev_chain: DevChain, data_dir: Path):
    pairs = dev_chain.pairs()
    pairs[4], pairs[5] = pairs[5], pairs[4]
    report = run(dev_chain, pairs, data_dir)
    assert report.mismatch is not None
    assert (report.mismatch.height, report.mismatch.what) == (5, "height")


def test_header_byte_flip_breaks_the_certificate_link(dev_chain: DevChain, data_dir: Path):
    pairs = dev_chain.pairs()
    block, cert = pairs[2]
    header = dataclasses.replace(block.header, time=block.header.time + 1)
    pairs[2] = (dataclasses.replace(block, header=header), cert)
    report = run(dev_chain, pairs, data_dir)
    assert report.mismatch is not None and report.mismatch.what == "certificate"
    assert report.mismatch.block_hash == header_hash(dev_chain.genesis.suite, header).hex()


def test_missing_certificate_is_reported(dev_chain: DevChain, data_dir: Path):
    pairs = dev_chain.pairs()
    pairs[1] = (pairs[1][0], None)
    report = run(dev_chain, pairs, data_dir)
    assert report.mismatch is not None
    assert (report.mismatch.height, report.mismatch.what) == (2, "certificate")


def test_cli_reports_a_mismatch_for_people_and_machines(dev_chain: DevChain, tmp_path: Path):
    import json

    from click.testing import CliRunner

    from cli.audit import audit

    pairs = dev_chain.pairs()
    block, cert = pairs[TAMPER_HEIGHT - 1]
    assert cert is not None
    pairs[TAMPER_HEIGHT - 1] = _wrong_state_root(dev_chain, block, cert)
    export_chain(ListSource(pairs), tmp_path / "x")
    genesis = str(dev_chain.genesis_path)
    runner = CliRunner()
    human = runner.invoke(audit, ["replay", "--genesis", genesis, "--from", str(tmp_path / "x"),
                                  "--data", str(tmp_path / "d1")])
    assert human.exit_code == 1
    assert f"MISMATCH at height {TAMPER_HEIGHT}: state_root" in human.output
    assert "certificate signed by: " in human.output and "bureau validator" in human.output
    machine = runner.invoke(audit, ["replay", "--genesis", genesis, "--from", str(tmp_path / "x"),
                                    "--data", str(tmp_path / "d2"), "--json",
                                    "--report", str(tmp_path / "r.json")])
    assert machine.exit_code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert not report["ok"] and report["mismatch"]["height"] == TAMPER_HEIGHT
    assert len(report["mismatch"]["signers"]) == 4  # the full set signed the wrong root


def test_cli_errors_are_typed_not_tracebacks(dev_chain: DevChain, tmp_path: Path):
    from click.testing import CliRunner

    from cli.audit import audit

    answer = CliRunner().invoke(audit, ["replay", "--genesis", str(dev_chain.genesis_path),
                                        "--from", str(tmp_path / "nowhere")])
    assert answer.exit_code == 2 and "error[audit_source]" in answer.output
    (tmp_path / "junk").mkdir()
    answer = CliRunner().invoke(audit, ["replay", "--genesis", str(dev_chain.genesis_path),
                                        "--from", str(tmp_path / "junk")])
    assert answer.exit_code == 2 and "manifest.json" in answer.output


def test_undecodable_window_falls_back_to_the_executor(dev_chain: DevChain, data_dir: Path):
    """A worker that cannot help (here: garbage bytes) costs speed, never correctness."""

    class GarbageRaw(ListSource):
        def fetch(self, start: int, end: int):  # noqa: ANN202
            return [f._replace(raw=b"\xc1") for f in super().fetch(start, end)]

    report = replay(dev_chain.genesis, dev_chain.genesis_hash, GarbageRaw(dev_chain.pairs()),
                    data_dir, 1)
    assert report.ok and report.head == dev_chain.store.head.height
