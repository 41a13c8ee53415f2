"""The data model every part of skillchain shares. Pure: no I/O beyond reading genesis.

Everything an auditor needs to check a block, a certificate, a Merkle proof or
a state proof lives here, so that checking depends on nothing above it.
"""

from chain.blocks import check_tx_root, receipts_root, tx_root
from chain.codec import decode, encode
from chain.crypto import DEFAULT_SUITE, CryptoSuite, Signer, get_suite, suite_names
from chain.errors import (
    CertificateError,
    CorruptStoreError,
    DecodeError,
    ForeignStoreError,
    GenesisError,
    InputError,
    InternalError,
    KeyFileError,
    ProofError,
    SignatureError,
    SkillchainError,
    StorageError,
)
from chain.genesis import Genesis, load_genesis, parse_genesis
from chain.merkle import MerkleProof, merkle_proof, merkle_root, verify_merkle_proof
from chain.types import (
    ZERO_HASH,
    Block,
    BlockHeader,
    CommitCertificate,
    Event,
    Phase,
    Receipt,
    ReceiptStatus,
    Tx,
    Vote,
    header_hash,
    sign_tx,
    sign_vote,
    tx_hash,
    verify_tx_signature,
    verify_vote,
)
from chain.validators import (
    Validator,
    ValidatorSet,
    build_certificate,
    quorum_size,
    verify_certificate,
)

__all__ = [
    "DEFAULT_SUITE",
    "ZERO_HASH",
    "Block",
    "BlockHeader",
    "CertificateError",
    "CommitCertificate",
    "CorruptStoreError",
    "CryptoSuite",
    "DecodeError",
    "Event",
    "ForeignStoreError",
    "Genesis",
    "GenesisError",
    "InputError",
    "InternalError",
    "KeyFileError",
    "MerkleProof",
    "Phase",
    "ProofError",
    "Receipt",
    "ReceiptStatus",
    "SignatureError",
    "Signer",
    "SkillchainError",
    "StorageError",
    "Tx",
    "Validator",
    "ValidatorSet",
    "Vote",
    "build_certificate",
    "check_tx_root",
    "decode",
    "encode",
    "get_suite",
    "header_hash",
    "load_genesis",
    "merkle_proof",
    "merkle_root",
    "parse_genesis",
    "quorum_size",
    "receipts_root",
    "sign_tx",
    "sign_vote",
    "suite_names",
    "tx_hash",
    "tx_root",
    "verify_certificate",
    "verify_merkle_proof",
    "verify_tx_signature",
    "verify_vote",
]
