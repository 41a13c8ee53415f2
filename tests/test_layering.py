"""The import direction cli -> node -> {consensus, contracts, storage} -> chain holds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ALLOWED = {
    "chain": {"chain"},
    "consensus": {"chain", "consensus"},
    "contracts": {"chain", "contracts"},
    "storage": {"chain", "storage"},
    "node": {"chain", "consensus", "contracts", "storage", "node"},
    "cli": {"chain", "consensus", "contracts", "storage", "node", "cli"},
}
PROJECT = set(ALLOWED) | {"tests", "bench"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & PROJECT


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_downward(package):
    wrong = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) - ALLOWED[package])
        for path in (REPO / package).rglob("*.py")
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_chain_exports_are_pinned():
    import chain

    assert len(chain.__all__) == len(set(chain.__all__))
    for name in chain.__all__:
        assert hasattr(chain, name), name
    assert {
        "Tx",
        "Block",
        "BlockHeader",
        "CommitCertificate",
        "verify_certificate",
        "decode",
        "encode",
        "get_suite",
        "load_genesis",
    } <= set(chain.__all__)
