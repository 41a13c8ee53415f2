"""The personal-data scan of tx bodies: no ID, mobile or card number in any string.

``parse_body`` (``contracts.kinds``) calls ``find_personal_data_in`` before the
schema, so the check is part of the body rules: a tx holding such a number is
refused at admission (``check_tx``) and, should a Byzantine primary include it,
rejected at execution with code ``personal_data``; either way its text reaches
no state record, and the message names the field and the kind of number,
never the number (``chain.personal_data`` has the shapes).

Every ``str`` of a body is scanned — names, reasons, units, ids and codes
alike: an id is free text too (a platform could build session ids from ID
numbers), and a code field cannot hold such a number by its grammar anyway.

Cost: each body class's plan lists only the fields that can hold a str
(directly, in a tuple, or in nested records), so a 1,000-session batch costs
four string checks per session (about 0.5 us each for ASCII text without 11
digits, 2 us for Chinese text) and never walks the captures. The scan reads
the wire value before the schema: where its shape is not the layout's, it stops
there (the schema then refuses the body as ``bad_body``).
"""

from __future__ import annotations

import typing
from typing import Any

from chain.personal_data import describe, find_personal_data
from chain.records import Record

__all__ = ["find_personal_data_in"]

Plan = tuple[tuple[int, str, bool, "type[Record] | None"], ...]
"""(field index, field name, is a tuple, nested record class or None for str)."""
_PLANS: dict[type[Record], Plan] = {}


def _plan(cls: type[Record]) -> Plan:
    if cls not in _PLANS:
        hints = typing.get_type_hints(cls)
        steps = []
        for index, name in enumerate(cls._fields):
            annotation = hints[name]
            many = typing.get_origin(annotation) is tuple
            if many:
                annotation = typing.get_args(annotation)[0]
            nested = isinstance(annotation, type) and issubclass(annotation, Record)
            if annotation is str:
                steps.append((index, name, many, None))
            elif nested and _plan(annotation):
                steps.append((index, name, many, annotation))
        _PLANS[cls] = tuple(steps)
    return _PLANS[cls]


def find_personal_data_in(cls: type[Record], value: Any) -> str | None:
    """Why the wire ``value`` of a body ``cls`` may not enter the chain: the message
    naming the first field that holds personal data and the kind of number, or None."""
    found = _scan(cls, value)
    if found is None:
        return None
    kind, path = found
    where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
    return (f"{where.lstrip('.')}: holds what looks like {describe(kind)}; "
            "personal data may not enter the chain (send a hash or a code)")


Found = tuple[str, list[str | int]]
"""(kind of number, field path from the innermost step out); paths are built only
for a hit, so the common case builds no strings."""


def _scan(cls: type[Record], value: Any) -> Found | None:
    plan = _plan(cls)
    if not plan or type(value) is not list or len(value) != len(cls._fields):
        return None
    for index, name, many, inner in plan:
        item = value[index]
        if not many:
            found = _check_item(item, inner)
        elif type(item) is list:
            found = _check_items(item, inner)
        else:
            found = None
        if found is not None:
            found[1].insert(0, name)
            return found
    return None


def _check_items(items: list[Any], inner: type[Record] | None) -> Found | None:
    for position, item in enumerate(items):
        found = _check_item(item, inner)
        if found is not None:
            found[1].insert(0, position)
            return found
    return None


def _check_item(item: Any, inner: type[Record] | None) -> Found | None:
    if inner is not None:
        return _scan(inner, item)
    if type(item) is str and (kind := find_personal_data(item)) is not None:
        return kind, []
    return None
