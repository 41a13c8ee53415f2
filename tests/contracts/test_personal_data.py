"""Personal data in free text is refused (issue 13, finding 8).

A valid ID number, a mobile number and a Luhn-valid card number in a
session's course unit, a suspension reason and an actor name were accepted and
ended up in plaintext in every node's LevelDB and WAL. Every string of every tx
body is now scanned (``chain.personal_data``) before the body is parsed; a hit
is refused with code ``personal_data`` at admission and at execution.

Near misses (wrong check digit, 11 digits not starting 1[3-9], Luhn-invalid
runs, dates, timestamps) are accepted; the property tests hold the detector to
its documented shapes.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.personal_data import describe, find_personal_data, is_luhn_valid
from chain.pseudonym import id_check_digit, is_valid_id_number
from chain.records import Bytes32, Record
from contracts import BODIES, KINDS, ContractError, check_tx, parse_body
from contracts.model import txseen_key
from tests.contracts.helpers import (
    ADMIN,
    BUREAU,
    DAY,
    HOUR,
    PROVIDER,
    T0,
    Chain,
    certificate_body,
    enrol_body,
    h,
    offline_body,
    open_class_body,
    pub,
    session,
    sessions_body,
    trainee,
    world,
)

ID_17 = "36010219900101123"
VALID_ID = ID_17 + id_check_digit(ID_17)
ID_WITH_X = next(
    f17 + "X" for n in range(1000) if id_check_digit(f17 := f"3601021990010{n:04d}") == "X"
)
MOBILE = "13812345678"
CARD_19 = "6222021234567890128"
CARD_16 = "4111111111111111"
CARD_13 = "4222222222222"

SHAPES = {"id_number": VALID_ID, "mobile_number": MOBILE, "bank_card": CARD_19}

SAMPLES: dict[str, list[Any]] = {
    "registry.register_actor": ["platform-z", "provider", "赣鄱培训平台", "360100", [pub(70)]],
    "registry.suspend_actor": ["platform-a", "audit"],
    "registry.reinstate_actor": ["platform-a"],
    "registry.rotate_key": [pub(20), pub(71)],
    "registry.publish_occupation": [
        "2-02-10-09", 2022, 3, "网络与信息安全管理员", 10 * HOUR, 10 * HOUR, True,
        ["skill_level"], 0, [["skill_level", "", 200_000], ["skill_level", "360100", 210_000]],
    ],
    "registry.publish_policy": [T0 + DAY, 6 * HOUR, 1200, 2700, 50, 2, 365 * DAY, 3000, 30,
                                10_000, 60, 5 * DAY, ["general"]],
    "registry.set_fund": ["360100", "employment_subsidy", 1000],
    "registry.set_params": [1000, 2, 12 * HOUR, 60, 8 * HOUR],
    "registry.publish_rules": [T0, 7 * DAY, 7 * DAY, 3 * HOUR, 5, ["general", "g1"], ["g1"]],
    "registry.set_calendar": [[19000], [19001]],
    "registry.declare_succession": ["4-03-02-01", 2015, "4-03-02-01", 2022, 5],
    "registry.propose_validator_change": ["add", pub(62), "v9", "360200"],
    "registry.approve_validator_change": [h("proposal")],
    "registry.propose_validator_add": [pub(62), "v9", "360200", "node9.jx.example", 26656],
    "registry.rotate_validator_key": [pub(1), pub(62), b"\x01" * 64],
    "registry.set_validator_address": ["10.0.0.9", 26656],
    "enrolment.open_class": open_class_body(),
    "enrolment.enrol": enrol_body("c1", [1]),
    "enrolment.attest_category": [trainee(1), "unemployed_with_difficulty", h("ev"), T0, T0 + 1],
    "learning.record_sessions": sessions_body(session("s1", 1, T0, HOUR)),
    "learning.correct_session": ["s1", "duplicate_upload", h("note")],
    "learning.record_assessment": ["a1", trainee(1), "c1", "unit-1", 80, 100, True, T0, h("e")],
    "learning.record_offline_practice": offline_body("o1", 1, T0, HOUR),
    "learning.record_exam": ["e1", trainee(1), "c1", "theory", 80, 100, True, T0, h("e")],
    "learning.issue_certificate": certificate_body("x", 1),
    "settlement.file_claim": [trainee(1), "c1", h("cert"), "employment_subsidy"],
    "settlement.approve_claim": [h("claim")],
    "settlement.reject_claim": [h("claim"), "hours_doubtful"],
    "settlement.publicise_claim": [h("claim")],
    "settlement.object_claim": [h("claim"), h("objection")],
    "settlement.pay_claim": [h("claim"), h("payment")],
    "settlement.revoke_claim": [h("claim"), "fraud_found", 1],
}
SAMPLES["registry.update_occupation"] = SAMPLES["registry.publish_occupation"]


# -- every string field of every body, found from the layouts themselves ---------------------
Path_ = tuple[str | int, ...]


def string_paths(cls: type[Record], value: list[Any]) -> list[Path_]:
    """Every path (field names and list indices) to a ``str`` inside ``value``."""
    found: list[Path_] = []
    hints = typing.get_type_hints(cls)
    for index, name in enumerate(cls._fields):
        found += [(name, *rest) for rest in _paths(hints[name], value[index])]
    return found


def _paths(annotation: Any, value: Any) -> list[tuple[str | int, ...]]:
    if annotation is str:
        return [()]
    if typing.get_origin(annotation) is tuple:
        inner = typing.get_args(annotation)[0]
        return [(i, *rest) for i, item in enumerate(value) for rest in _paths(inner, item)]
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return string_paths(annotation, value)
    assert annotation in (int, bool, bytes, Bytes32), annotation
    return []


def put(cls: type[Record], value: list[Any], path: Path_, text: str) -> list[Any]:
    """A copy of ``value`` with the string at ``path`` replaced by ``text``."""
    copy = _copy(value)
    node: Any = copy
    for step in path[:-1]:
        node = node[cls._fields.index(step) if isinstance(step, str) else step]
        cls = _record_type(cls, step) or cls
    last = path[-1]
    node[cls._fields.index(last) if isinstance(last, str) else last] = text
    return copy


def _record_type(cls: type[Record], step: str | int) -> type[Record] | None:
    if isinstance(step, int):
        return None
    annotation = typing.get_type_hints(cls)[step]
    if typing.get_origin(annotation) is tuple:
        annotation = typing.get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, Record) else None


def _copy(value: Any) -> Any:
    return [_copy(v) for v in value] if isinstance(value, list) else value


def dotted(path: Path_) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


FIELDS = [(kind, path) for kind in KINDS for path in string_paths(BODIES[kind], SAMPLES[kind])]


def test_every_kind_has_a_valid_sample_and_the_finding_fields_are_covered():
    assert set(SAMPLES) == set(KINDS)
    for kind in KINDS:
        parse_body(kind, SAMPLES[kind])
    names = {(kind, dotted(path)) for kind, path in FIELDS}
    assert {
        ("learning.record_sessions", "sessions[0].unit"),
        ("registry.suspend_actor", "reason"),
        ("registry.register_actor", "name"),
    } <= names
    assert len(FIELDS) >= 40


def refusal(kind: str, body: list[Any]) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_body(kind, body)
    return caught.value


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize(("kind", "path"), FIELDS, ids=[f"{k}:{dotted(p)}" for k, p in FIELDS])
def test_each_shape_in_each_string_field_is_refused_naming_field_and_kind(kind, path, shape):
    number = SHAPES[shape]
    error = refusal(kind, put(BODIES[kind], SAMPLES[kind], path, f"见{number}"))
    assert error.code == "personal_data"
    assert dotted(path) in error.message and describe(shape) in error.message
    assert number not in error.message and not re.search(r"[0-9]{5}", error.message)


FREE_TEXT = [
    ("registry.register_actor", ("name",)),
    ("registry.suspend_actor", ("reason",)),
    ("registry.publish_occupation", ("name",)),
    ("registry.propose_validator_change", ("name",)),
    ("learning.record_sessions", ("sessions", 0, "unit")),
    ("learning.record_assessment", ("unit",)),
]


def wrong_check_not_luhn(id_number: str) -> str:
    """``id_number`` with a check digit that fails both the ID check and Luhn."""
    for last in "0123456789":
        candidate = id_number[:17] + last
        if not is_valid_id_number(candidate) and not is_luhn_valid(candidate):
            return candidate
    raise AssertionError("no such digit")


NEAR_MISSES = [
    wrong_check_not_luhn(VALID_ID),
    "12812345678",                      # 11 digits, not 1[3-9]
    "10012345678",
    "1381234567",                       # 10 digits
    CARD_19[:-1] + "9",                 # Luhn fails
    "2024-01-15 2024-02-15",            # dates never join into one number
    "2024-01-15 — 2024-02-15",
    "第3课 13:00-14:00",
    "1700000000 1700003600",            # timestamps
    "unit-12 part 2024-07",
    "138 12 34 56 78",                  # short groups do not join
    "0000000000000000000000000000",     # 28 digits: no shape is that long
]


@pytest.mark.parametrize("text", NEAR_MISSES)
@pytest.mark.parametrize(("kind", "path"), FREE_TEXT, ids=[k for k, _ in FREE_TEXT])
def test_near_misses_are_accepted_in_free_text(kind, path, text):
    assert find_personal_data(text) is None
    limit = 64 if path[-1] == "unit" else 200
    parse_body(kind, put(BODIES[kind], SAMPLES[kind], path, text[:limit]))


# -- the shapes, exactly ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (VALID_ID, "id_number"),
        (ID_WITH_X, "id_number"),
        (ID_WITH_X.lower(), "id_number"),
        (f"身份证{VALID_ID}号", "id_number"),
        (f"{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}", "id_number"),
        (f"{ID_WITH_X[:6]}-{ID_WITH_X[6:14]}-{ID_WITH_X[14:]}", "id_number"),
        (MOBILE, "mobile_number"),
        ("+8613812345678", "mobile_number"),
        ("+86 138 1234 5678", "mobile_number"),
        ("0086-138-1234-5678", "mobile_number"),
        ("电话:138 1234 5678。", "mobile_number"),
        ("tel13812345678x", "mobile_number"),
        ("2024 13812345678", "mobile_number"),
        ("19912345678", "mobile_number"),
        (CARD_19, "bank_card"),
        ("6222 0212 3456 7890 128", "bank_card"),
        ("6222-0212-3456-7890-128", "bank_card"),
        (CARD_16, "bank_card"),
        ("4111 1111 1111 1111", "bank_card"),
        (CARD_13, "bank_card"),
        ("１３８１２３４５６７８", "mobile_number"),            # fullwidth digits
        ("１３８　１２３４　５６７８", "mobile_number"),        # and an ideographic space
        ("٦٢٢٢٠٢١٢٣٤٥٦٧٨٩٠١٢٨", "bank_card"),            # Arabic-Indic digits
        ("𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "mobile_number"),              # mathematical digits
    ],
)
def test_shapes(text, kind):
    assert find_personal_data(text) == kind


def test_card_numbers_are_13_to_19_digits():
    for length in range(10, 23):
        body = "4" * (length - 1)
        number = next(body + d for d in "0123456789" if is_luhn_valid(body + d))
        want = "bank_card" if 13 <= length <= 19 else None
        if length == 18 and is_valid_id_number(number):
            want = "id_number"
        assert find_personal_data(number) == want, number


# -- at execution: a Byzantine primary's block gets a rejection receipt -----------------------
LEAKS = [
    ("learning.record_sessions", ("sessions", 0, "unit"), MOBILE, PROVIDER),
    ("registry.suspend_actor", ("reason",), VALID_ID, ADMIN),
    ("registry.register_actor", ("name",), CARD_19, ADMIN),
]


@pytest.mark.parametrize(("kind", "path", "number", "sender"), LEAKS, ids=[k for k, *_ in LEAKS])
def test_the_finding_txs_are_refused_at_admission_and_rejected_at_execution(
    kind, path, number, sender
):
    chain = world()
    tx = chain.tx(sender, kind, put(BODIES[kind], SAMPLES[kind], path, f"x {number} y"))
    digest = chain.hash_of(tx)
    assert check_tx(chain.base, tx, digest, chain.height + 1).code == "personal_data"
    receipt = chain.run([tx])[0]
    assert receipt.code == "personal_data" and receipt.status == 1
    assert number not in str(receipt.events)
    assert set(chain.last_changes) == {b"meta/height", txseen_key(digest)}


def test_a_clean_body_is_still_accepted_after_the_scan():
    chain = Chain()
    assert chain.send(ADMIN, "registry.suspend_actor", ["platform-a", "audit 2026-07"]).code == ""
    assert chain.send(BUREAU, "settlement.reject_claim", [h("none"), "hours_doubtful"]).code == (
        "unknown_claim")


def test_reason_codes_and_check_methods_are_codes_not_prose():
    assert refusal("settlement.reject_claim", [h("c"), "hours doubtful"]).code == "bad_body"
    assert refusal("settlement.revoke_claim", [h("c"), "Fraud", 1]).code == "bad_body"
    bad_method = enrol_body("c1", [1])
    bad_method[1][0][2] = "checked by Mr Wang"
    assert refusal("enrolment.enrol", bad_method).code == "bad_body"
    good = enrol_body("c1", [1])
    good[1][0][2] = "face+id-card"
    parse_body("enrolment.enrol", good)


# -- properties -----------------------------------------------------------------------------
SEPARATORS = st.sampled_from([" ", "-", " - ", "\u3000", "\u00a0", "--", "\t"])
NOT_DIGITS = st.text(
    alphabet=st.characters(blacklist_categories=("Nd", "No", "Cs"), blacklist_characters="Xx"),
    max_size=20,
).filter(lambda s: not any(ch.isdigit() for ch in s))
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@st.composite
def grouped(draw: st.DrawFn, number: str) -> str:
    """``number`` split into groups (each at least 3 characters but the last), joined by
    separators, some of it in fullwidth."""
    cuts = []
    at = 0
    last_cut = len(number) - (2 if number[-1] in "Xx" else 1)  # X stays with its digits
    while last_cut - at >= 3 and draw(st.booleans()):
        at += draw(st.integers(3, last_cut - at))
        cuts.append(at)
    parts = [number[a:b] for a, b in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    text = parts[0]
    for part in parts[1:]:
        text += draw(SEPARATORS) + part
    if draw(st.booleans()):
        text = text.translate(FULLWIDTH)
    return text


ids = st.from_regex(r"[0-9]{17}", fullmatch=True).map(lambda f: f + id_check_digit(f))
mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@st.composite
def cards(draw: st.DrawFn) -> str:
    body = draw(st.from_regex(r"[3-6][0-9]{11,17}", fullmatch=True))  # card IINs start 3-6
    return next(body + d for d in "0123456789" if is_luhn_valid(body + d))


PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(st.data(), NOT_DIGITS, NOT_DIGITS)
def test_property_any_id_number_in_any_text_is_found(data, before, after):
    number = data.draw(ids)
    text = before + data.draw(grouped(number)) + after
    assert find_personal_data(text) == "id_number"


@PROPERTY
@given(st.data(), NOT_DIGITS, NOT_DIGITS, st.sampled_from(["", "+86 ", "+86", "0086 ", "86-"]))
def test_property_any_mobile_number_in_any_text_is_found(data, before, after, prefix):
    text = before + prefix + data.draw(grouped(data.draw(mobiles))) + after
    assert find_personal_data(text) == "mobile_number"


@PROPERTY
@given(st.data(), NOT_DIGITS, NOT_DIGITS)
def test_property_any_card_number_in_any_text_is_found(data, before, after):
    number = data.draw(cards())
    text = before + data.draw(grouped(number)) + after
    assert find_personal_data(text) is not None  # a group inside may be a more specific shape
    alone = "id_number" if is_valid_id_number(number) else "bank_card"
    assert find_personal_data(before + number + after) == alone


@PROPERTY
@given(st.data())
def test_property_any_found_number_is_refused_in_a_session_unit(data):
    number = data.draw(st.one_of(ids, mobiles, cards()))
    unit = data.draw(grouped(number))[:60]
    body = put(BODIES["learning.record_sessions"], SAMPLES["learning.record_sessions"],
               ("sessions", 0, "unit"), unit)
    if find_personal_data(unit) is not None:
        assert refusal("learning.record_sessions", body).code == "personal_data"


@PROPERTY
@given(st.lists(st.integers(0, 10**10 - 1), max_size=8), st.text("abc/_:，。", min_size=1))
def test_property_numbers_of_at_most_ten_digits_between_words_never_match(numbers, glue):
    assert find_personal_data(glue.join(str(n) for n in numbers)) is None


@PROPERTY
@given(st.text(alphabet="0123456789 -xX+abc", max_size=60))
def test_property_fullwidth_digits_are_read_as_ascii_digits(text):
    assert find_personal_data(text.translate(FULLWIDTH)) == find_personal_data(text)


@PROPERTY
@given(st.from_regex(r"[0-9]{17}", fullmatch=True), st.sampled_from("0123456789X"))
def test_property_an_18_character_number_is_found_only_by_check_digit_or_luhn(first17, last):
    number = first17 + last
    found = find_personal_data(number)
    digits = first17 if last == "X" else number  # a 17-digit run before a letter X
    if is_valid_id_number(number):
        assert found == "id_number"
    elif is_luhn_valid(digits):
        assert found == "bank_card"
    else:
        assert found is None
