"""Numbers in free text that are personal data: ID numbers, mobile numbers, bank cards.

The chain keeps people only as keyed pseudonyms and documents only as hashes
(DESIGN.md). Free text a client sends — an actor's name, a suspension reason,
a course unit — is copied to every node's blocks, WAL and state for good, so
the contracts refuse any body string holding one of the numbers below
(``contracts.kinds``). The detector is pure and deterministic: it decides
whether a tx is valid, so every node must answer alike on any input.

Reading the text
----------------
1. **Normalise**: each character becomes its NFKC form under Unicode **3.2**
   (``unicodedata.ucd_3_2_0``), and each decimal digit of any script (as
   Unicode 3.2 knows it) its ASCII digit. Character by character is NFKC here:
   no composition involves a digit or a separator. Fullwidth ``１３８``,
   mathematical ``𝟏𝟑𝟖``, superscripts and Arabic-Indic digits all become
   ``138``. The database is pinned because normalising under the running
   Python's newer Unicode could turn a character that another node's older
   Python does not know into a digit: nodes on different Pythons would then
   disagree on a tx. Characters Unicode 3.2 did not know are digits for no one.
2. **Groups**: a group is a maximal run of ASCII digits; a letter ``X``/``x``
   straight after a group is kept as a possible ID check character.
3. **Candidates**: one group, or several consecutive groups joined when 1 to 3
   separator characters (space, tab, newline, ``-``, ``.``, a dash U+2010 to
   U+2015 or U+2212; NFKC has already made NBSP and the ideographic space
   spaces) stand between them and every group but the last has at least 3
   digits. So ``138 1234 5678``, ``6222-0212-3456-7890-128`` and
   ``360102 19900101 123X`` are single numbers, while dates such as
   ``2024-01-15 2024-02-15`` never join into one. A candidate has at most 19
   digits; digits are never picked out of the middle of a group, so a 32-digit
   run is no match.

The shapes
----------
``id_number``
    A candidate of 17 digits followed by X, or of 18 digits, whose GB 11643
    check character (ISO 7064 MOD 11-2, ``chain.pseudonym``) is right. Wrong
    check digits pass: only about 1 in 11 random 18-digit strings is refused
    this way.
``mobile_number``
    A candidate of exactly ``1[3-9]`` and 9 more digits, optionally led (inside
    the candidate) by ``86`` or ``0086``; ``+86 138 1234 5678`` is found by its
    last three groups. 11 digits not starting 13..19 pass.
``bank_card``
    A candidate of 13 to 19 digits passing the Luhn check. Luhn-invalid runs
    pass; about 1 in 10 random runs of those lengths is refused.

Letters around a number do not protect it (``tel13812345678`` is found), which
keeps ``ID360102...`` from slipping through at the cost of matching a hex-like
word that happens to hold such a number. When several shapes match, the most
specific is named: ID number, then mobile number, then bank card.

Cost: a string with fewer than 11 digits (nearly every name, unit and id) is
cleared by counting digits (~0.5 us; ~1.5 us for Chinese text); otherwise the
work is linear in the length. The folding table for non-ASCII text is built
on first use (~60 ms, once per process), not at import.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Final

from chain.pseudonym import is_valid_id_number

__all__ = [
    "BANK_CARD",
    "ID_NUMBER",
    "KINDS",
    "MOBILE_NUMBER",
    "describe",
    "find_personal_data",
    "is_luhn_valid",
    "normalise_digits",
]

ID_NUMBER: Final = "id_number"
MOBILE_NUMBER: Final = "mobile_number"
BANK_CARD: Final = "bank_card"
KINDS: Final = (ID_NUMBER, MOBILE_NUMBER, BANK_CARD)
"""In order of precedence (the most specific first)."""

_DESCRIPTIONS: Final = {
    ID_NUMBER: "an ID number",
    MOBILE_NUMBER: "a mobile number",
    BANK_CARD: "a bank card number",
}
MIN_DIGITS: Final = 11
"""The fewest digits any shape has (a mobile number): fewer and the text is clear."""
MAX_DIGITS: Final = 19
"""The most digits any shape has (a 19-digit card)."""
MIN_GROUP: Final = 3
"""Digits each group but the last of a joined candidate must have."""
MAX_SEPARATOR: Final = 3

_UCD: Final = unicodedata.ucd_3_2_0
_GROUP: Final = re.compile(r"[0-9]+")
_SEPARATOR: Final = re.compile(rf"[ \t\n\r\-.\u2010-\u2015\u2212]{{1,{MAX_SEPARATOR}}}")
_MOBILE: Final = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_ASCII_DIGITS: Final = tuple("0123456789")
_NOT_DIGITS: Final = bytes(b for b in range(256) if not 48 <= b <= 57)
_KEEP: Final = frozenset("0123456789Xx \t\n\r-.\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def describe(kind: str) -> str:
    """``kind`` in words, for messages ("a mobile number")."""
    return _DESCRIPTIONS[kind]


def is_luhn_valid(digits: str) -> bool:
    """True when the ASCII digit string ``digits`` passes the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _DOUBLED[value] if position % 2 else value
    return total % 10 == 0


def normalise_digits(text: str) -> str:
    """``text`` with each character replaced by its NFKC form under Unicode 3.2 and every
    decimal digit of any script by its ASCII digit, as far as digits, ``X`` and
    separators go (characters whose form holds none of them are left alone)."""
    if text.isascii():
        return text
    return text.translate(_fold_table())


@cache
def _fold_table() -> dict[int, str]:
    """Code point -> replacement, for the ~560 characters Unicode 3.2 folds into digits,
    X or separators. Per character is NFKC for this purpose: no composition involves a
    digit or a separator. Built on first use (~60 ms), not at import."""
    table: dict[int, str] = {}
    for code in range(0x80, 0x30000):
        char = chr(code)
        value = _UCD.decimal(char, None)
        if value is not None:
            table[code] = _ASCII_DIGITS[value]
        elif _UCD.decomposition(char):
            folded = "".join(_ascii_digit(c) for c in _UCD.normalize("NFKC", char))
            if not _KEEP.isdisjoint(folded):
                table[code] = folded
    return table


def _ascii_digit(char: str) -> str:
    if char.isascii():
        return char
    value = _UCD.decimal(char, None)
    return char if value is None else _ASCII_DIGITS[value]


def _digit_count(text: str) -> int:
    """ASCII digits in ``text`` (UTF-8 uses bytes 0x30-0x39 for nothing else)."""
    return len(text.encode("utf-8", "surrogatepass").translate(None, _NOT_DIGITS))


def find_personal_data(text: str) -> str | None:
    """The kind (``KINDS``) of the most specific number in ``text`` shaped like
    personal data, or None; the shapes are in the module docstring."""
    if len(text) < MIN_DIGITS and text.isascii():  # ids, modes, codes: most strings
        return None
    text = normalise_digits(text)
    if _digit_count(text) < MIN_DIGITS:
        return None
    groups, joins, check_x = _groups(text)
    best: int | None = None
    for start in range(len(groups)):
        digits = ""
        for end in range(start, len(groups)):
            if end > start and not (joins[end - 1] and len(groups[end - 1]) >= MIN_GROUP):
                break
            digits += groups[end]
            if len(digits) > MAX_DIGITS:
                break
            found = _classify(digits, check_x[end])
            if found is not None and (best is None or found < best):
                if found == 0:
                    return KINDS[0]
                best = found
    return None if best is None else KINDS[best]


def _groups(text: str) -> tuple[list[str], list[bool], list[bool]]:
    """Digit groups, whether each joins the next (a separator run between them), and
    whether an X follows each."""
    groups: list[str] = []
    joins: list[bool] = []
    check_x: list[bool] = []
    previous_end = -1
    for match in _GROUP.finditer(text):
        if groups:
            gap = text[previous_end : match.start()]
            joins[-1] = _SEPARATOR.fullmatch(gap) is not None
        groups.append(match.group())
        joins.append(False)
        check_x.append(text[match.end() : match.end() + 1] in ("X", "x"))
        previous_end = match.end()
    return groups, joins, check_x


def _classify(digits: str, followed_by_x: bool) -> int | None:
    """The index in ``KINDS`` of the shape ``digits`` has, or None."""
    length = len(digits)
    if length == 17 and followed_by_x and is_valid_id_number(digits + "X"):
        return 0
    if length == 18 and is_valid_id_number(digits):
        return 0
    if length in (11, 13, 15) and _MOBILE.fullmatch(digits):
        return 1
    if 13 <= length <= MAX_DIGITS and is_luhn_valid(digits):
        return 2
    return None
