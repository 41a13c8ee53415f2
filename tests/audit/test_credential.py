"""A credential bundle verifies offline; each kind of tampering fails with its own message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import contracts
import contracts.model as model
from chain.codec import decode, encode
from chain.credential import FIELDS, CredentialError, compute_next_set, verify_credential
from chain.validators import Validator
from cli.audit import audit
from contracts.state import DictState
from node.audit.credential import build_credential
from tests.audit.devchain import DevChain


@pytest.fixture(scope="module")
def honest(dev_chain: DevChain) -> dict[str, Any]:
    """The bundle of a trainee whose claim was paid."""
    plan = dev_chain.workload.classes[0]  # type: ignore[attr-defined]
    return build_credential(dev_chain.store, dev_chain.genesis_hash, plan.class_id,
                            plan.trainees[3])


def check(chain: DevChain, bundle: dict[str, Any]):  # noqa: ANN201
    return verify_credential(bundle, chain.genesis, chain.genesis_hash)


def test_honest_bundle_proves_hours_certificate_and_claim(dev_chain: DevChain, honest):
    facts = check(dev_chain, honest)
    result = honest["result"]
    assert facts.found and facts.height == dev_chain.store.head.height
    assert facts.theory_seconds == result["theory_seconds"] > 0
    assert facts.theory_seconds >= facts.required_theory_seconds
    assert facts.evidence["sessions"] == len(result["sessions"]) > 0
    assert facts.claim is not None and facts.claim["state"] == "paid"
    assert len(facts.certificates) == 1 and len(facts.signers) == 3


def test_unknown_enrolment_is_proven_absent(dev_chain: DevChain):
    bundle = build_credential(dev_chain.store, dev_chain.genesis_hash, "demo-01", bytes(32))
    facts = check(dev_chain, bundle)
    assert not facts.found


def _entry(bundle: dict[str, Any], prefix: bytes) -> dict[str, Any]:
    return next(e for e in bundle["entries"] if bytes.fromhex(e["key"]).startswith(prefix))


def _edit_result(bundle: dict[str, Any]) -> None:
    bundle["result"]["theory_seconds"] += 3600


def _edit_session(bundle: dict[str, Any]) -> None:
    bundle["result"]["sessions"][0]["credited_seconds"] += 600


def _edit_value(bundle: dict[str, Any]) -> None:
    entry = _entry(bundle, b"enrol/")
    fields = decode(bytes.fromhex(entry["value"]))
    fields[5] += 3600  # theory_seconds, and the result to match
    entry["value"] = encode(fields).hex()
    bundle["result"]["theory_seconds"] += 3600
    bundle["result"]["enrolment"]["theory_seconds"] += 3600


def _edit_proof_node(bundle: dict[str, Any]) -> None:
    entry = _entry(bundle, b"enrol/")
    depth, bitmap, siblings, leaf = decode(bytes.fromhex(entry["proof"]))
    first = bytearray(siblings[0])
    first[0] ^= 0x80
    siblings[0] = bytes(first)
    entry["proof"] = encode([depth, bitmap, siblings, leaf]).hex()


def _edit_signature(bundle: dict[str, Any]) -> None:
    from chain.types import CommitCertificate

    cert = CommitCertificate.decode(bytes.fromhex(bundle["certificate"]))
    sig = bytearray(cert.signatures[1])
    sig[10] ^= 0x01
    forged = CommitCertificate(cert.height, cert.view, cert.block_hash, cert.signers,
                               (cert.signatures[0], bytes(sig), *cert.signatures[2:]))
    bundle["certificate"] = forged.encode().hex()


def _drop_session(bundle: dict[str, Any]) -> None:
    bundle["result"]["sessions"].pop()


def _edit_header(bundle: dict[str, Any]) -> None:
    from chain.types import BlockHeader

    header = BlockHeader.decode(bytes.fromhex(bundle["header"]))
    fields = header.to_wire()
    fields[3] += 1  # time
    bundle["header"] = BlockHeader.from_wire(fields).encode().hex()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_edit_result, "result field 'theory_seconds' says"),
        (_edit_session, "field 'credited_seconds' says"),
        (_edit_value, "shows the key holding a different value"),
        (_edit_proof_node, "state proof for key 'enrol/"),
        (_edit_signature, "final block: certificate at height"),
        (_drop_session, "is left out"),
        (_edit_header, "the certificate is for another block than the header"),
    ],
)
def test_each_tampering_fails_with_its_message(dev_chain: DevChain, honest, tamper, message):
    bundle = copy.deepcopy(honest)
    tamper(bundle)
    with pytest.raises(CredentialError, match=message.replace("(", r"\(")):
        check(dev_chain, bundle)


def test_proof_node_message_names_the_root(dev_chain: DevChain, honest):
    bundle = copy.deepcopy(honest)
    _edit_proof_node(bundle)
    with pytest.raises(CredentialError, match="leads to a different root"):
        check(dev_chain, bundle)


def test_other_genesis_is_refused(dev_chain: DevChain, honest):
    with pytest.raises(CredentialError, match="another genesis"):
        verify_credential(honest, dev_chain.genesis, bytes(32))


def test_cli_round_trip_and_tampered_file(dev_chain: DevChain, honest, tmp_path: Path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(honest))
    tampered = copy.deepcopy(honest)
    _edit_signature(tampered)
    bad.write_text(json.dumps(tampered))
    runner = CliRunner()
    ok = runner.invoke(audit, ["verify-credential", str(good), "--genesis",
                               str(dev_chain.genesis_path)])
    assert ok.exit_code == 0 and "VERIFIED" in ok.output and "paid" in ok.output
    fail = runner.invoke(audit, ["verify-credential", str(bad), "--genesis",
                                 str(dev_chain.genesis_path)])
    assert fail.exit_code == 2 and "error[bad_credential]" in fail.output
    assert "does not verify" in fail.output


def test_field_layouts_match_the_contract_records():
    for name, fields in FIELDS.items():
        assert getattr(model, name)._fields == fields, name


def test_next_set_rule_matches_the_contracts():
    from cli.jiangxi import dev_signer

    members = [Validator(dev_signer(f"v{i}").public_key, f"v{i}", "360100") for i in range(4)]
    newcomer = Validator(dev_signer("new").public_key, "new", "360200")
    pending = model.PendingChanges((
        model.ScheduledChange(8, "add", newcomer, bytes(32)),
        model.ScheduledChange(9, "remove", members[0], bytes(32)),
    ))
    for height in (5, 7, 8):
        state = contracts.Overlay(DictState())
        state.put(model.VALSET_KEY, model.ValidatorList(tuple(members)))
        state.put(model.PENDING_KEY, pending)
        state.put(model.HEIGHT_KEY, model.Height(height))
        raw = {k: v for k, v in state.changes().items()}
        ours = compute_next_set(raw, "test")
        assert ours == contracts.validator_set_at(state), height
