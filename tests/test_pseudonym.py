"""Trainee pseudonyms and the GB 11643 check digit."""

from __future__ import annotations

import pytest

from chain.crypto import get_suite
from chain.errors import InputError
from chain.pseudonym import id_check_digit, is_valid_id_number, trainee_pseudonym

SUITE = get_suite("ed25519-sha256")
SECRET = b"provincial-secret-for-tests-only"


def test_standard_example_is_valid():
    # The worked example of GB 11643-1999 ends in X.
    assert id_check_digit("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("11010519491231002x")


@pytest.mark.parametrize(
    "bad", ["110105194912310021", "11010519491231002", "1101051949123100XX", ""]
)
def test_bad_numbers_are_refused(bad):
    assert not is_valid_id_number(bad)
    with pytest.raises(InputError):
        trainee_pseudonym(SUITE, SECRET, bad)


def test_pseudonym_is_keyed_and_case_insensitive():
    a = trainee_pseudonym(SUITE, SECRET, "11010519491231002X")
    assert a == trainee_pseudonym(SUITE, SECRET, "11010519491231002x")
    assert a != trainee_pseudonym(SUITE, SECRET + b"!", "11010519491231002X")
    assert a != SUITE.hash(b"11010519491231002X")
    assert len(a) == 32


def test_short_secret_is_refused():
    with pytest.raises(InputError, match="16 bytes"):
        trainee_pseudonym(SUITE, b"short", "11010519491231002X")
