"""Errors of the audit tools, as one tree::

    InputError (chain.errors)
    └── AuditError              something the auditor was given is wrong
        ├── SourceError         the block source (URL or export dir) cannot serve
        │                       what replay needs: unreachable, missing, malformed
        └── ReplayMismatch      the chain does not verify: carries a ``Mismatch``
                                naming the height, what differed and who signed
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from chain.errors import InputError

__all__ = ["AuditError", "Mismatch", "ReplayMismatch", "SourceError"]


class AuditError(InputError):
    """Base of the audit tools' errors."""

    code = "audit_error"


class SourceError(AuditError):
    """The block source cannot be read (network, missing file, bad manifest)."""

    code = "audit_source"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Where and how a chain failed to verify; the heart of a failed replay report."""

    height: int
    what: str
    """A stable category: height, hash_chain, certificate, tx_root, tx_signature,
    header, receipts_root, state_root."""
    detail: str
    block_hash: str = ""
    signers: list[str] = field(default_factory=list)
    """Names of the validators whose bits the certificate sets (who vouched for it)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ReplayMismatch(AuditError):
    """The replayed chain disagrees with itself or with re-execution."""

    code = "replay_mismatch"

    def __init__(self, mismatch: Mismatch) -> None:
        signed = ", ".join(mismatch.signers)
        super().__init__(
            f"height {mismatch.height}: {mismatch.what} check failed: {mismatch.detail}"
            + (f" (certificate signed by {signed})" if signed else "")
        )
        self.mismatch = mismatch
