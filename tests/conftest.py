"""Shared fixtures.

``suite`` runs a test once per crypto suite, so chain-level behaviour is
checked under the default suite and under the national-standard one alike:
a genesis may name either, and nothing above ``chain.crypto`` may care which.
"""

from __future__ import annotations

from typing import Any

import pytest

from chain.crypto import CryptoSuite, get_suite

SUITE_NAMES = ["ed25519-sha256", "sm2-sm3"]


@pytest.fixture(params=SUITE_NAMES)
def suite(request: pytest.FixtureRequest) -> CryptoSuite:
    """Each registered crypto suite in turn."""
    return get_suite(request.param)


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``parse_body`` call the contracts make during execution, by tx kind."""
    import contracts.execute as execute_module

    calls: list[str] = []
    real = execute_module.parse_body

    def counting(kind: str, body: Any) -> Any:
        calls.append(kind)
        return real(kind, body)

    monkeypatch.setattr(execute_module, "parse_body", counting)
    return calls
