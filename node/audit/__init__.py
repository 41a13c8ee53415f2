"""The auditor's tools: replay from genesis, export, credentials, supervision report.

An auditor trusts nothing but ``genesis.json``. Replay is the node's own
executor without the network (one definition of "executing a block");
checking a credential bundle is pure and lives in ``chain.credential``.
"""

from node.audit.errors import AuditError, Mismatch, ReplayMismatch, SourceError

__all__ = ["AuditError", "Mismatch", "ReplayMismatch", "SourceError"]
