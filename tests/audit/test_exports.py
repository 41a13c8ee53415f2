"""The audit tools' public names are pinned (a change here is an API change)."""

from __future__ import annotations

import chain.credential
import node.audit
import node.audit.replay
import node.audit.source


def test_exported_names():
    assert sorted(node.audit.__all__) == ["AuditError", "Mismatch", "ReplayMismatch",
                                          "SourceError"]
    assert sorted(chain.credential.__all__) == [
        "CREDENTIAL_FORMAT", "CredentialError", "CredentialFacts", "FIELDS", "compute_next_set",
        "verify_credential"]
    assert sorted(node.audit.replay.__all__) == [
        "ReplayReport", "apply_block", "replay", "signer_names"]
    assert sorted(node.audit.source.__all__) == [
        "DirSource", "EXPORT_FORMAT", "Fetched", "RemoteSource", "Source", "open_source"]


def test_chain_credential_needs_nothing_above_chain():
    """An auditor's offline check imports chain/ only (DESIGN: arrows point one way)."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(chain.credential.__file__).read_text())
    roots = {
        (item.module or "").split(".")[0]
        for item in ast.walk(tree)
        if isinstance(item, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for item in ast.walk(tree)
        if isinstance(item, ast.Import)
        for alias in item.names
    }
    assert roots <= {"__future__", "chain", "dataclasses", "typing"}, roots
