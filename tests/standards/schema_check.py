"""A small JSON Schema validator for the keywords Tulou's standard schemas use.

Neither ``jsonschema`` nor ``jsonschema-rs`` is a dependency, and the tests may not add
one, so this checks the 2020-12 subset that msgspec emits and ``problem.schema.json``
uses. A keyword it does not know is an error, never silently passed, so a schema that
starts using one makes the tests fail until this file learns it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

Schema = dict[str, Any]
Check = Callable[[Any, Any, Schema, Schema, str, list[str]], None]

ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "examples"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _is_date_time(text: str) -> bool:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text.upper() and parsed.tzinfo is not None


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


FORMATS = {"date-time": _is_date_time, "date": _is_date}


def errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``instance`` breaks ``schema`` (a whole schema document), as ``$.path: reason``."""
    found: list[str] = []
    _check(instance, schema, schema, "$", found)
    return found


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/$defs/"):
        raise ValueError(f"only local $defs references are supported, not {ref}")
    return root["$defs"][ref.removeprefix("#/$defs/")]


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str, found: list[str]) -> None:
    for keyword, expected in schema.items():
        if keyword in ANNOTATIONS or keyword in {"properties", "additionalProperties"}:
            continue
        check = KEYWORDS.get(keyword)
        if check is None:
            raise ValueError(f"schema keyword {keyword!r} is not supported by this validator")
        check(value, expected, schema, root, path, found)
    if isinstance(value, dict) and ("properties" in schema or "additionalProperties" in schema):
        _check_object(value, schema, root, path, found)


def _check_object(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str,
                  found: list[str]) -> None:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, member in value.items():
        if name in properties:
            _check(member, properties[name], root, f"{path}.{name}", found)
        elif extra is False:
            found.append(f"{path}.{name}: not allowed")
        elif isinstance(extra, dict):
            _check(member, extra, root, f"{path}.{name}", found)


def _type(value: Any, expected: Any, _schema: Schema, _root: Schema, path: str, found: list[str]) -> None:
    names = expected if isinstance(expected, list) else [expected]
    if not any(TYPES[name](value) for name in names):
        found.append(f"{path}: {value!r} is not of type {'/'.join(names)}")


def _ref(value: Any, expected: Any, _schema: Schema, root: Schema, path: str, found: list[str]) -> None:
    _check(value, _resolve(root, expected), root, path, found)


def _any_of(value: Any, expected: Any, _schema: Schema, root: Schema, path: str, found: list[str]) -> None:
    if not any(not errors_in(value, option, root, path) for option in expected):
        found.append(f"{path}: {value!r} matches none of the allowed shapes")


def _one_of(value: Any, expected: Any, _schema: Schema, root: Schema, path: str, found: list[str]) -> None:
    if sum(not errors_in(value, option, root, path) for option in expected) != 1:
        found.append(f"{path}: {value!r} does not match exactly one allowed shape")


def errors_in(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    found: list[str] = []
    _check(value, schema, root, path, found)
    return found


def _enum(value: Any, expected: Any, _schema: Schema, _root: Schema, path: str, found: list[str]) -> None:
    if value not in expected:
        found.append(f"{path}: {value!r} is not one of {expected}")


def _const(value: Any, expected: Any, _schema: Schema, _root: Schema, path: str, found: list[str]) -> None:
    if value != expected:
        found.append(f"{path}: {value!r} is not {expected!r}")


def _required(value: Any, expected: Any, _schema: Schema, _root: Schema, path: str, found: list[str]) -> None:
    if isinstance(value, dict):
        found.extend(f"{path}.{name}: required" for name in expected if name not in value)


def _items(value: Any, expected: Any, _schema: Schema, root: Schema, path: str, found: list[str]) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, expected, root, f"{path}[{index}]", found)


def _bound(measure: Callable[[Any], int | float | None], holds: Callable[[Any, Any], bool], reason: str) -> Check:
    """A check of ``measure(value)`` against the keyword's number, for the values it applies to."""

    def check(value: Any, expected: Any, _schema: Schema, _root: Schema, path: str, found: list[str]) -> None:
        size = measure(value)
        if size is not None and not holds(size, expected):
            found.append(f"{path}: {value!r} {reason} {expected}")

    return check


def _string_length(value: Any) -> int | float | None:
    return len(value) if isinstance(value, str) else None


def _array_length(value: Any) -> int | float | None:
    return len(value) if isinstance(value, list) else None


def _number(value: Any) -> int | float | None:
    return value if TYPES["number"](value) else None


def _at_least(size: Any, bound: Any) -> bool:
    return size >= bound


def _at_most(size: Any, bound: Any) -> bool:
    return size <= bound


def _pattern(value: Any, expected: Any, _schema: Schema, _root: Schema, path: str, found: list[str]) -> None:
    if isinstance(value, str) and not re.search(expected, value):
        found.append(f"{path}: {value!r} does not match {expected}")


def _format(value: Any, expected: Any, _schema: Schema, _root: Schema, path: str, found: list[str]) -> None:
    if expected not in FORMATS:
        raise ValueError(f"format {expected!r} is not supported by this validator")
    if isinstance(value, str) and not FORMATS[expected](value):
        found.append(f"{path}: {value!r} is not a {expected}")


KEYWORDS = {
    "type": _type, "$ref": _ref, "anyOf": _any_of, "oneOf": _one_of, "enum": _enum, "const": _const,
    "required": _required, "items": _items, "pattern": _pattern, "format": _format,
    "minLength": _bound(_string_length, _at_least, "is shorter than"),
    "maxLength": _bound(_string_length, _at_most, "is longer than"),
    "minItems": _bound(_array_length, _at_least, "has fewer items than"),
    "maxItems": _bound(_array_length, _at_most, "has more items than"),
    "minimum": _bound(_number, _at_least, "is less than"),
    "maximum": _bound(_number, _at_most, "is more than"),
}
