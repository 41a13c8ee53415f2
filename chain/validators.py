"""Validator sets, quorums and commit certificates.

n validators tolerate f = floor((n-1)/3) faulty ones; a quorum is
q = floor(2n/3) + 1 distinct validators. Two quorums always share at least
f+1 validators, hence at least one honest one: that overlap is the whole
reason two honest nodes never commit different blocks at one height.

A certificate is checked against the set in force at its height (fixed by
the state after the previous height), so a removed bureau's key signs nothing
that counts, and a key added later cannot reach back.
"""

from __future__ import annotations

from collections.abc import Iterable

from chain.codec import encode
from chain.crypto import TAG_VALSET, TAG_VOTE, CryptoSuite, Signer
from chain.errors import CertificateError, DecodeError
from chain.records import Record, record
from chain.types import CommitCertificate, Phase, vote_payload

__all__ = [
    "Validator",
    "ValidatorSet",
    "build_certificate",
    "certificate_signers",
    "faults_tolerated",
    "quorum_size",
    "sign_commit",
    "verify_certificate",
]


def faults_tolerated(n: int) -> int:
    """f: how many of n validators may fail arbitrarily."""
    return (n - 1) // 3


def quorum_size(n: int) -> int:
    """q: distinct validators needed to prepare or commit."""
    return (2 * n) // 3 + 1


@record
class Validator(Record):
    """A bureau's validator: consensus key, display name, region (division) code."""

    public_key: bytes
    name: str
    region_code: str


class ValidatorSet:
    """An ordered, duplicate-free list of validators with index lookups.

    Order is by public key, so the same members always give the same indices,
    bitmap and hash, whichever order a genesis file or a governance tx lists them.
    """

    __slots__ = ("_index", "validators")

    def __init__(self, validators: Iterable[Validator]) -> None:
        ordered = tuple(sorted(validators, key=lambda v: v.public_key))
        keys = [v.public_key for v in ordered]
        if len(set(keys)) != len(keys):
            raise DecodeError("validator set lists a public key twice")
        if not ordered:
            raise DecodeError("validator set is empty")
        self.validators = ordered
        self._index = {key: i for i, key in enumerate(keys)}

    def __len__(self) -> int:
        return len(self.validators)

    def __contains__(self, public_key: object) -> bool:
        return public_key in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatorSet) and self.validators == other.validators

    def __hash__(self) -> int:
        return hash(self.validators)

    def index_of(self, public_key: bytes) -> int | None:
        """Position of a key in the set, or None for an outsider."""
        return self._index.get(public_key)

    @property
    def quorum(self) -> int:
        return quorum_size(len(self.validators))

    @property
    def f(self) -> int:
        return faults_tolerated(len(self.validators))

    def to_wire(self) -> list:
        return [v.to_wire() for v in self.validators]

    @classmethod
    def from_wire(cls, value: object) -> ValidatorSet:
        if type(value) is not list:
            raise DecodeError("validator set: expected a list")
        return cls(Validator.from_wire(item) for item in value)

    def hash(self, suite: CryptoSuite) -> bytes:
        """The digest headers carry as ``validators_hash``."""
        return suite.tagged_hash(TAG_VALSET, encode(self.to_wire()))


def certificate_signers(valset: ValidatorSet, signers: bytes) -> list[int]:
    """Indices whose bits are set; rejects bitmaps of the wrong length or stray bits."""
    n = len(valset)
    if len(signers) != (n + 7) // 8:
        raise CertificateError(f"signer bitmap has {len(signers)} bytes, expected {(n + 7) // 8}")
    indices = [i for i in range(len(signers) * 8) if signers[i // 8] >> (i % 8) & 1]
    if indices and indices[-1] >= n:
        raise CertificateError("signer bitmap names a validator outside the set")
    return indices


def verify_certificate(
    suite: CryptoSuite, chain_id: str, valset: ValidatorSet, cert: CommitCertificate
) -> list[int]:
    """Check a quorum of distinct members signed COMMIT for the block; return signer indices.

    Raises ``CertificateError`` naming the first problem found.
    """
    indices = certificate_signers(valset, cert.signers)
    if len(indices) < valset.quorum:
        raise CertificateError(
            f"certificate at height {cert.height} has {len(indices)} signers, "
            f"quorum is {valset.quorum} of {len(valset)}"
        )
    if len(indices) != len(cert.signatures):
        raise CertificateError("certificate has a different number of signatures and signers")
    payload = vote_payload(int(Phase.COMMIT), cert.height, cert.view, cert.block_hash)
    for index, signature in zip(indices, cert.signatures, strict=True):
        validator = valset.validators[index]
        if not suite.verify(validator.public_key, TAG_VOTE, chain_id, payload, signature):
            raise CertificateError(
                f"certificate at height {cert.height}: signature of validator "
                f"{validator.name} ({validator.public_key.hex()[:16]}) does not verify"
            )
    return indices


def build_certificate(
    valset: ValidatorSet,
    height: int,
    view: int,
    block_hash: bytes,
    signatures: dict[bytes, bytes],
) -> CommitCertificate:
    """Assemble a certificate from COMMIT signatures keyed by voter public key.

    Outsiders are ignored; the caller checks the signatures and the quorum.
    """
    chosen = sorted(
        (index, sig)
        for key, sig in signatures.items()
        if (index := valset.index_of(key)) is not None
    )
    bitmap = bytearray((len(valset) + 7) // 8)
    for index, _ in chosen:
        bitmap[index // 8] |= 1 << (index % 8)
    return CommitCertificate(height, view, block_hash, bytes(bitmap), tuple(s for _, s in chosen))


def sign_commit(signer: Signer, chain_id: str, height: int, view: int, block_hash: bytes) -> bytes:
    """A validator's COMMIT signature, as a certificate carries it."""
    payload = vote_payload(int(Phase.COMMIT), height, view, block_hash)
    return signer.sign(TAG_VOTE, chain_id, payload)
