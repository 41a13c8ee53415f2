"""Offline verification of a portable learning credential, trusting only genesis.

A credential bundle (JSON, built by ``node.audit.credential``) says: "as of
block H, trainee T in class C has these credited hours, these sessions behind
them, these certificates and this claim". This module checks that claim with
``chain/`` alone — no node, no storage, no contracts:

1. **Who signed.** Start from the genesis validator set. Each entry of
   ``validator_changes`` is a certified header at the last height before a
   set change, with state proofs of the three values that fix the next set
   (``valset``, ``valset/pending``, ``meta/height``); its certificate must be
   a quorum of the set in force, and the next set is computed from the proven
   values (``compute_next_set``, the contracts' rule restated). The final
   header's ``validators_hash`` must equal the set reached, and its
   certificate must be a quorum of that set.
2. **What the state says.** Every entry (key, value or absent, proof) must
   verify against the final header's state root.
3. **What the bundle claims.** The query ``result`` must be exactly what the
   proven values say: the enrolment, every evidence record (and no record of
   the enrolment's day logs and evidence list may be missing), the
   certificates and the claim, compared field by field in canonical order.

Any failure raises ``CredentialError`` with a message naming the part that
failed. State values are canonical msgpack arrays of record fields; the few
layouts read here (``FIELDS``) are pinned against ``contracts.model`` by
``tests/audit/test_credential.py`` so the two cannot drift apart silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

from chain.codec import decode
from chain.errors import CertificateError, DecodeError, InputError, ProofError
from chain.genesis import Genesis
from chain.state_proof import StateProof, verify_state_proof
from chain.types import BlockHeader, CommitCertificate, header_hash
from chain.validators import Validator, ValidatorSet, certificate_signers, verify_certificate

__all__ = [
    "CREDENTIAL_FORMAT",
    "FIELDS",
    "CredentialError",
    "CredentialFacts",
    "compute_next_set",
    "verify_credential",
]

CREDENTIAL_FORMAT: Final = "skillchain-credential/1"

VALSET_KEY: Final = b"valset"
PENDING_KEY: Final = b"valset/pending"
HEIGHT_KEY: Final = b"meta/height"

FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "Enrolment": ("class_id", "trainee", "check_hash", "check_method", "enrolled_at",
                  "theory_seconds", "simulation_seconds", "offline_seconds", "sessions",
                  "study_days", "claim_id"),
    "Session": ("provider_id", "session_id", "trainee", "class_id", "unit", "mode", "start",
                "end", "active_seconds", "credited_seconds", "credits", "captures",
                "failed_captures", "log_hash", "tx_hash", "status", "correction_reason"),
    "Assessment": ("provider_id", "assessment_id", "trainee", "class_id", "unit", "score",
                   "max_score", "passed", "time", "evidence_hash"),
    "OfflinePractice": ("bureau_id", "record_id", "trainee", "class_id", "start", "end",
                        "seconds", "evidence_hash"),
    "ExamResult": ("bureau_id", "record_id", "trainee", "class_id", "part", "score",
                   "max_score", "passed", "time", "evidence_hash"),
    "Certificate": ("number_hash", "trainee", "certificate_type", "occupation_code", "edition",
                    "level", "issue_date", "issuer_id", "claim_id"),
    "Claim": ("claim_id", "organizer_id", "trainee", "class_id", "certificate_hash", "city",
              "source", "training_fen", "living_fen", "full_hours", "state", "publicised_at",
              "recover_fen", "history"),
    "Class": ("class_id", "provider_id", "organizer_id", "occupation_code", "edition", "level",
              "city", "start", "end", "planned_seconds", "opened_at", "trainee_count"),
    "Occupation": ("code", "edition", "level", "name", "theory_seconds", "practical_seconds",
                   "simulation_allowed", "certificate_types", "standards"),
    # read by position in _evidence_refs and compute_next_set:
    "DayLog": ("intervals", "credited_seconds"),
    "Interval": ("start", "end", "ref", "class_id"),
    "EvidenceList": ("keys",),
    "ValidatorList": ("validators",),
    "PendingChanges": ("changes",),
    "ScheduledChange": ("effective_height", "op", "validator", "proposal_id"),
    "Height": ("height",),
}
"""Field order of the state records a credential reads (see the module docstring)."""

_EVIDENCE: Final = {
    b"sess/": ("sessions", "Session"),
    b"assess/": ("assessments", "Assessment"),
    b"offline/": ("offline", "OfflinePractice"),
    b"exam/": ("exams", "ExamResult"),
}


class CredentialError(InputError):
    """A credential bundle that does not prove what it claims."""

    code = "bad_credential"


@dataclass(frozen=True, slots=True)
class CredentialFacts:
    """What a verified credential proves, as of one certified block."""

    chain_id: str
    height: int
    time: int
    block_hash: str
    signers: list[str]
    class_id: str
    trainee: str
    found: bool
    theory_seconds: int = 0
    simulation_seconds: int = 0
    offline_seconds: int = 0
    required_theory_seconds: int | None = None
    required_practical_seconds: int | None = None
    evidence: dict[str, int] = field(default_factory=dict)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    claim: dict[str, Any] | None = None
    validator_changes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- the entry point ------------------------------------------------------------------


def verify_credential(
    bundle: Any, genesis: Genesis, genesis_hash: bytes
) -> CredentialFacts:
    """Check ``bundle`` (decoded JSON) against ``genesis``; see the module docstring."""
    if not isinstance(bundle, dict) or bundle.get("format") != CREDENTIAL_FORMAT:
        raise CredentialError(f"not a {CREDENTIAL_FORMAT} bundle")
    if bundle.get("chain_id") != genesis.chain_id:
        raise CredentialError(
            f"bundle is for chain {bundle.get('chain_id')!r}, genesis is {genesis.chain_id!r}")
    if bundle.get("genesis_hash", genesis_hash.hex()) != genesis_hash.hex():
        raise CredentialError("bundle names another genesis than the one given")
    suite = genesis.suite
    valset, changes, since = _follow_validator_changes(genesis, bundle.get("validator_changes"))
    header, cert = _header_and_cert(bundle, "final block")
    if header.height < since:
        raise CredentialError("final block lies before the last validator-set change listed")
    if header.validators_hash != valset.hash(suite):
        raise CredentialError(
            f"validator-set chain is incomplete: block {header.height} was made under a set "
            "the bundle does not lead to from genesis")
    signers = _check_certificate(genesis, valset, header, cert, "final block")
    proven = _proven_entries(suite, header.state_root, bundle.get("entries"))
    facts = _check_result(bundle, proven)
    return CredentialFacts(
        genesis.chain_id, header.height, header.time,
        header_hash(suite, header).hex(), signers, **facts, validator_changes=changes)


# -- 1. who signed --------------------------------------------------------------------


def _follow_validator_changes(
    genesis: Genesis, links: Any
) -> tuple[ValidatorSet, int, int]:
    """The set in force after the last change shown, the number of changes, and the first
    height that set governs; checked link by link."""
    if not isinstance(links, list):
        raise CredentialError("validator_changes must be a list")
    valset = genesis.validator_set()
    last_height = 0
    for number, link in enumerate(links, 1):
        what = f"validator change {number}"
        if not isinstance(link, dict):
            raise CredentialError(f"{what} must be an object")
        header, cert = _header_and_cert(link, what)
        if header.height < last_height:
            raise CredentialError(f"{what}: heights must increase")
        if header.validators_hash != valset.hash(genesis.suite):
            raise CredentialError(f"{what}: block {header.height} was not made under the set "
                                  "in force (a change is missing)")
        _check_certificate(genesis, valset, header, cert, what)
        try:
            proven = _proven_entries(genesis.suite, header.state_root, link.get("entries"))
        except CredentialError as exc:
            raise CredentialError(f"{what}: {exc.message}") from None
        valset = compute_next_set(proven, what)
        last_height = header.height + 1
    return valset, len(links), last_height


def compute_next_set(proven: dict[bytes, bytes | None], what: str) -> ValidatorSet:
    """The set for the height after ``meta/height``: ``valset`` plus due pending changes.

    Restates ``contracts.registry.validator_set_at`` over raw values (pinned by a test).
    """
    try:
        validators = [Validator.from_wire(v) for v in _value(proven, VALSET_KEY, what)[0]]
        pending_raw = _value(proven, PENDING_KEY, what, optional=True)
        next_height = _value(proven, HEIGHT_KEY, what, optional=True)
        next_height = (next_height[0] if next_height else 0) + 1
        for effective, op, member, _ in pending_raw[0] if pending_raw else ():
            if effective <= next_height:
                validators = _apply_change(validators, op, Validator.from_wire(member))
        return ValidatorSet(validators)
    except (DecodeError, TypeError, ValueError, IndexError) as exc:
        raise CredentialError(f"{what}: validator-set values are malformed: {exc}") from None


def _apply_change(validators: list[Validator], op: str, member: Validator) -> list[Validator]:
    others = [v for v in validators if v.public_key != member.public_key]
    if op == "add":
        return [*others, member]
    return others or validators


def _header_and_cert(obj: dict[str, Any], what: str) -> tuple[BlockHeader, CommitCertificate]:
    try:
        header = BlockHeader.decode(_unhex(obj.get("header"), f"{what} header"))
        cert = CommitCertificate.decode(_unhex(obj.get("certificate"), f"{what} certificate"))
    except DecodeError as exc:
        raise CredentialError(f"{what}: {exc.message}") from None
    return header, cert


def _check_certificate(
    genesis: Genesis, valset: ValidatorSet, header: BlockHeader, cert: CommitCertificate,
    what: str,
) -> list[str]:
    """Verify the quorum; the names of the validators who signed."""
    if header.chain_id != genesis.chain_id:
        raise CredentialError(f"{what}: header is for chain {header.chain_id!r}")
    if cert.block_hash != header_hash(genesis.suite, header) or cert.height != header.height:
        raise CredentialError(f"{what}: the certificate is for another block than the header")
    try:
        verify_certificate(genesis.suite, genesis.chain_id, valset, cert)
    except CertificateError as exc:
        raise CredentialError(f"{what}: {exc.message}") from None
    return [valset.validators[i].name for i in certificate_signers(valset, cert.signers)]


# -- 2. what the state says -----------------------------------------------------------


def _proven_entries(suite: Any, root: bytes, entries: Any) -> dict[bytes, bytes | None]:
    """Every entry verified against ``root``: key -> value (None = proven absent)."""
    if not isinstance(entries, list):
        raise CredentialError("entries must be a list")
    proven: dict[bytes, bytes | None] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise CredentialError("each entry must be an object")
        key = _unhex(entry.get("key"), "entry key")
        label = key.decode(errors="replace")
        raw_value = entry.get("value")
        value = None if raw_value is None else _unhex(raw_value, f"value of {label!r}")
        try:
            proof = StateProof.from_wire(decode(_unhex(entry.get("proof"), f"proof of {label!r}")))
            verify_state_proof(suite, root, key, value, proof)
        except (DecodeError, ProofError) as exc:
            raise CredentialError(f"state proof for key {label!r}: {exc.message}") from None
        proven[key] = value
    return proven


# -- 3. what the bundle claims --------------------------------------------------------


def _check_result(bundle: dict[str, Any], proven: dict[bytes, bytes | None]) -> dict[str, Any]:
    """Compare the bundle's query result with the proven values; the facts it yields."""
    result = bundle.get("result")
    class_id, trainee_hex = bundle.get("class_id"), bundle.get("trainee")
    if not isinstance(result, dict) or not isinstance(class_id, str):
        raise CredentialError("result and class_id are required")
    trainee = _unhex(trainee_hex, "trainee")
    _expect(result, "class_id", class_id)
    _expect(result, "trainee", trainee.hex())
    enrol_key = b"enrol/" + class_id.encode() + b"/" + trainee.hex().encode()
    enrolment = _record(proven, enrol_key, "Enrolment", optional=True)
    class_rec = _record(proven, b"class/" + class_id.encode(), "Class", optional=True)
    base = {"class_id": class_id, "trainee": trainee.hex()}
    if enrolment is None or class_rec is None:
        _expect(result, "found", False)
        return {**base, "found": False}
    _expect(result, "found", True)
    _compare(result.get("enrolment"), enrolment, "Enrolment", "enrolment")
    for name in ("theory_seconds", "simulation_seconds", "offline_seconds"):
        _expect(result, name, enrolment[name])
    _expect(result, "practical_seconds",
            enrolment["offline_seconds"] + enrolment["simulation_seconds"])
    _expect(result, "study_days", len(enrolment["study_days"]))
    occupation = _record(proven, _occupation_key(class_rec), "Occupation", optional=True)
    _expect(result, "required_theory_seconds", occupation and occupation["theory_seconds"])
    _expect(result, "required_practical_seconds", occupation and occupation["practical_seconds"])
    evidence = _check_evidence(result, proven, enrolment, enrol_key)
    certificates = _check_certificates(result, proven, class_rec, trainee)
    claim = _check_claim(result, proven, enrolment)
    return {
        **base, "found": True,
        **{n: enrolment[n] for n in ("theory_seconds", "simulation_seconds", "offline_seconds")},
        "required_theory_seconds": occupation and occupation["theory_seconds"],
        "required_practical_seconds": occupation and occupation["practical_seconds"],
        "evidence": evidence, "certificates": certificates, "claim": claim,
    }


def _occupation_key(class_rec: dict[str, Any]) -> bytes:
    code, edition, level = (class_rec[n] for n in ("occupation_code", "edition", "level"))
    return f"occ/{code}/{edition}/{level}".encode()


def _check_evidence(
    result: dict[str, Any], proven: dict[bytes, bytes | None], enrolment: dict[str, Any],
    enrol_key: bytes,
) -> dict[str, int]:
    """Every evidence item proven, and none of the enrolment's evidence left out."""
    expected = _evidence_refs(proven, enrolment, enrol_key)
    listed: list[bytes] = []
    counts: dict[str, int] = {}
    for prefix, (section, record_name) in _EVIDENCE.items():
        items = result.get(section)
        if not isinstance(items, list):
            raise CredentialError(f"result field {section!r} must be a list")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise CredentialError(f"every item of {section!r} needs its state key")
            key = item["key"].encode()
            if not key.startswith(prefix):
                raise CredentialError(f"{section}: {item['key']!r} is not a {record_name}")
            rest = {k: v for k, v in item.items() if k != "key"}
            _compare(rest, _record(proven, key, record_name), record_name, item["key"])
            listed.append(key)
        counts[section] = len(items)
    if sorted(listed) != sorted(expected):
        missing = sorted(set(expected) - set(listed))
        raise CredentialError(
            "evidence list differs from the enrolment's day logs and evidence list"
            + (f": {missing[0].decode(errors='replace')!r} is left out" if missing else ""))
    return counts


def _evidence_refs(
    proven: dict[bytes, bytes | None], enrolment: dict[str, Any], enrol_key: bytes
) -> list[bytes]:
    """The evidence keys the enrolment points to (restates ``contracts.queries``)."""
    refs: list[bytes] = []
    trainee_hex = enrolment["trainee"].hex().encode()
    for day in enrolment["study_days"]:
        log = _raw(proven, b"day/" + trainee_hex + b"/" + str(day).encode(), optional=True)
        for _start, _end, ref, class_id in log[0] if log else ():
            if class_id == enrolment["class_id"] and ref not in refs:
                refs.append(ref)
    listed = _raw(proven, enrol_key + b"/log", optional=True)
    refs.extend(ref for ref in (listed[0] if listed else ()) if ref not in refs)
    return refs


def _check_certificates(
    result: dict[str, Any], proven: dict[bytes, bytes | None], class_rec: dict[str, Any],
    trainee: bytes,
) -> list[dict[str, Any]]:
    code, edition, level = (class_rec[n] for n in ("occupation_code", "edition", "level"))
    index = _raw(proven, f"certs/{trainee.hex()}/{code}/{edition}/{level}".encode(),
                 optional=True)
    keys = list(index[0]) if index else []
    items = result.get("certificates")
    if not isinstance(items, list) or len(items) != len(keys):
        raise CredentialError("certificates differ from the trainee's proven certificate index")
    out = []
    for item, key in zip(items, keys, strict=True):
        cert = _record(proven, key, "Certificate")
        _compare(item, cert, "Certificate", key.decode(errors="replace"))
        out.append({n: cert[n] for n in ("certificate_type", "level", "issue_date", "issuer_id")})
    return out


def _check_claim(
    result: dict[str, Any], proven: dict[bytes, bytes | None], enrolment: dict[str, Any]
) -> dict[str, Any] | None:
    claim_id = enrolment["claim_id"]
    if claim_id is None:
        _expect(result, "claim", None)
        _expect(result, "claim_state", None)
        return None
    claim = _record(proven, b"claim/" + claim_id.hex().encode(), "Claim")
    _compare(result.get("claim"), claim, "Claim", "claim")
    _expect(result, "claim_state", claim["state"])
    return {n: _json(claim[n]) for n in ("claim_id", "state", "training_fen", "living_fen",
                                         "recover_fen", "city", "source")}


# -- helpers ----------------------------------------------------------------------------


def _unhex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise CredentialError(f"{what} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise CredentialError(f"{what} is not valid hex") from None


def _raw(proven: dict[bytes, bytes | None], key: bytes, optional: bool = False) -> Any:
    """The decoded proven value at ``key`` (None when proven absent and ``optional``)."""
    label = key.decode(errors="replace")
    if key not in proven:
        raise CredentialError(f"the bundle carries no proof for state key {label!r}")
    value = proven[key]
    if value is None:
        if optional:
            return None
        raise CredentialError(f"state key {label!r} is proven absent")
    try:
        return decode(value)
    except DecodeError as exc:
        raise CredentialError(f"state value at {label!r} is not canonical: {exc}") from None


def _value(proven: dict[bytes, bytes | None], key: bytes, what: str, optional: bool = False
           ) -> Any:
    try:
        return _raw(proven, key, optional)
    except CredentialError as exc:
        raise CredentialError(f"{what}: {exc.message}") from None


def _record(
    proven: dict[bytes, bytes | None], key: bytes, name: str, optional: bool = False
) -> dict[str, Any] | None:
    """The proven value at ``key`` as a dict of ``FIELDS[name]``."""
    raw = _raw(proven, key, optional)
    if raw is None:
        return None
    fields = FIELDS[name]
    if not isinstance(raw, list) or len(raw) != len(fields):
        raise CredentialError(f"state value at {key.decode(errors='replace')!r} is not a {name}")
    return dict(zip(fields, raw, strict=True))


def _json(value: Any) -> Any:
    """A decoded value as the query renders it: bytes as hex, records as field lists."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _flatten(value: Any) -> Any:
    """A rendered record with its field names dropped (nested dicts become lists)."""
    if isinstance(value, dict):
        return [_flatten(v) for v in value.values()]
    if isinstance(value, list):
        return [_flatten(v) for v in value]
    return value


def _compare(claimed: Any, proven: dict[str, Any] | None, name: str, where: str) -> None:
    """``claimed`` (rendered JSON) must equal the proven record, field by field."""
    if proven is None:
        raise CredentialError(f"{where}: no proven {name}")
    if not isinstance(claimed, dict) or tuple(claimed) != FIELDS[name]:
        raise CredentialError(f"{where}: fields differ from a {name}")
    for field_name, value in proven.items():
        if _flatten(claimed[field_name]) != _json(value):
            raise CredentialError(
                f"{where}: field {field_name!r} says {claimed[field_name]!r} but the proven "
                f"state says {_json(value)!r}")


def _expect(result: dict[str, Any], name: str, proven: Any) -> None:
    if result.get(name, ...) != _json(proven):
        raise CredentialError(
            f"result field {name!r} says {result.get(name)!r} but the proven state says "
            f"{_json(proven)!r}")
