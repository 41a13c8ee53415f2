"""Every error the ledger core raises, as one tree.

Who is at fault decides what a caller does, so the tree splits on that first::

    SkillchainError                 base of everything we raise on purpose
    ├── InputError                  the other side is at fault: reject, keep running
    │   ├── DecodeError             bytes are not one canonical encoding of a known
    │   │                           structure ("peer sent garbage")
    │   ├── SignatureError          a signature does not verify for this structure,
    │   │                           chain id and key
    │   ├── CertificateError        a commit certificate lacks a quorum or carries a
    │   │                           signer outside the validator set
    │   ├── ProofError              a Merkle or state proof does not lead to the root
    │   ├── GenesisError            genesis.json is unreadable or breaks a rule
    │   └── KeyFileError            a key file is missing, malformed or of another suite
    ├── StorageError                the data directory cannot serve us
    │   ├── CorruptStoreError       bytes on disk fail their checks: refuse, never guess
    │   └── ForeignStoreError       the directory belongs to another chain or is not ours
    └── InternalError               our bug: an invariant broke; stop rather than diverge

Every class carries a stable machine-readable ``code`` so that RPC answers and
CLI ``--json`` output can name the error without parsing prose.
"""

from __future__ import annotations

__all__ = [
    "SkillchainError",
    "InputError",
    "DecodeError",
    "SignatureError",
    "CertificateError",
    "ProofError",
    "GenesisError",
    "KeyFileError",
    "StorageError",
    "CorruptStoreError",
    "ForeignStoreError",
    "InternalError",
]


class SkillchainError(Exception):
    """Base of every error raised on purpose by skillchain."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(SkillchainError):
    """Something handed to us is wrong; the sender must fix it."""

    code = "bad_input"


class DecodeError(InputError):
    """Bytes that are not exactly one canonical encoding of the expected structure."""

    code = "decode_error"


class SignatureError(InputError):
    """A signature that does not verify for its structure, chain id and key."""

    code = "bad_signature"


class CertificateError(InputError):
    """A commit certificate without a quorum of distinct, known signers."""

    code = "bad_certificate"


class ProofError(InputError):
    """A Merkle or state proof that does not lead to the claimed root."""

    code = "bad_proof"


class GenesisError(InputError):
    """A genesis file that cannot start a chain."""

    code = "bad_genesis"


class KeyFileError(InputError):
    """A key file that cannot be used (missing, malformed, wrong suite)."""

    code = "bad_key_file"


class StorageError(SkillchainError):
    """The data directory cannot serve the request."""

    code = "storage_error"


class CorruptStoreError(StorageError):
    """Stored bytes fail their checks; the node must not serve from them."""

    code = "corrupt_store"


class ForeignStoreError(StorageError):
    """The data directory belongs to another chain or to another program."""

    code = "foreign_store"


class InternalError(SkillchainError):
    """An invariant of our own broke: a bug, never the peer's fault."""

    code = "internal_error"
