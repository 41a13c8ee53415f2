"""Shared fixtures.

``suite`` runs a test once per crypto suite, so chain-level behaviour is
checked under the default suite and under the national-standard one alike:
a genesis may name either, and nothing above ``chain.crypto`` may care which.
"""

from __future__ import annotations

import pytest

from chain.crypto import CryptoSuite, get_suite

SUITE_NAMES = ["ed25519-sha256", "sm2-sm3"]


@pytest.fixture(params=SUITE_NAMES)
def suite(request: pytest.FixtureRequest) -> CryptoSuite:
    """Each registered crypto suite in turn."""
    return get_suite(request.param)
