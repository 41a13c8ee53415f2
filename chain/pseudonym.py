"""Trainee pseudonyms: the only way a person appears on the chain.

A trainee is ``HMAC(provincial_secret, national ID number)`` under the
chain's suite. A plain hash would not do: there are only about 10^11
plausible ID numbers, so anyone could hash them all and unmask every trainee.
The secret lives off-chain with the province; platforms compute pseudonyms
through a service holding it (here: a function taking it).

Before computing one we check the ID number's GB 11643-1999 check digit
(ISO 7064 MOD 11-2), so a typo cannot create a second, unlinkable identity
for the same person — which would defeat the one-subsidy-per-person rule.
"""

from __future__ import annotations

from chain.crypto import CryptoSuite
from chain.errors import InputError

__all__ = ["id_check_digit", "is_valid_id_number", "trainee_pseudonym"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """The 18th character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise InputError("an ID number's first 17 characters are digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_valid_id_number(id_number: str) -> bool:
    """True for an 18-character ID number with a correct check digit."""
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return False
    return id_check_digit(id_number[:17]) == id_number[17].upper()


def trainee_pseudonym(suite: CryptoSuite, secret: bytes, id_number: str) -> bytes:
    """The 32-byte pseudonym of the person with ``id_number``."""
    if len(secret) < 16:
        raise InputError("the pseudonym secret must be at least 16 bytes")
    if not is_valid_id_number(id_number):
        raise InputError("not a valid 18-character ID number (check digit mismatch)")
    return suite.hmac(secret, id_number.upper().encode())
