"""Checking schemas and records: jsonschema-rs, each schema version compiled once per process.

A bad record gets one 422 listing every error with the JSON path of the value at
fault (``$.depth_m``, ``$.owners[2].name``), so a writer fixes them all in one go.
Schemas are JSON Schema 2020-12 with an object at the root; remote ``$ref``\\ s are
never fetched (the validator runs offline).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Any

import jsonschema_rs

from tulou.errors import Invalid
from tulou.i18n import gettext as _

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_ERRORS = 100
CACHE_SIZE = 512
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Compiled validators by schema fingerprint. A version never changes once stored,
#: and the fingerprint names its exact text, so an entry is never stale.
_compiled: OrderedDict[str, jsonschema_rs.Draft202012Validator] = OrderedDict()


def _compile(schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, offline=True)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def check_schema(schema: Any, field: str = "schema") -> dict[str, Any]:
    """The schema, if it is a JSON Schema 2020-12 for objects that compiles offline; 422 otherwise."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise Invalid(_("A dataset schema must describe an object (\"type\": \"object\")"), field=field)
    if schema.get("$schema", DIALECT) != DIALECT:
        raise Invalid(_("A dataset schema must use JSON Schema 2020-12"), field=field)
    try:
        jsonschema_rs.meta.validate(schema)
        _compile(schema)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as error:
        raise Invalid(_("Not a valid JSON Schema: %(reason)s") % {"reason": _first_line(error)}, field=field) from None
    return schema


def validator_for(fingerprint: str, schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    """The compiled validator of a stored schema version, compiled on first use."""
    validator = _compiled.get(fingerprint)
    if validator is None:
        validator = _compiled[fingerprint] = _compile(schema)
        if len(_compiled) > CACHE_SIZE:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(fingerprint)
    return validator


def json_path(parts: list[str | int]) -> str:
    """``["owners", 2, "name"]`` to ``$.owners[2].name``; odd names in brackets: ``$["plot no"]``."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if PLAIN_NAME.match(part) else f"[{json.dumps(part, ensure_ascii=False)}]"
    return path


def _error_paths(error: jsonschema_rs.ValidationError) -> list[str]:
    """Where the error is: a missing or unexpected property is named itself, not the object holding it."""
    parts = list(error.instance_path)
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
        return [json_path([*parts, error.kind.property])]
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        return [json_path([*parts, name]) for name in error.kind.unexpected]
    return [json_path(parts)]


def record_errors(validator: jsonschema_rs.Draft202012Validator, data: Any) -> list[dict[str, str]]:
    """Every error in ``data`` (up to :data:`MAX_ERRORS`), in the order the schema's checks found them.

    ``is_valid`` first: it stops at the first failure and builds no error objects, so a
    good record (nearly every one in an import) costs a third of ``iter_errors``.
    """
    if validator.is_valid(data):
        return []
    found = []
    for error in validator.iter_errors(data):
        found.extend({"path": path, "message": error.message} for path in _error_paths(error))
        if len(found) >= MAX_ERRORS:
            break
    return found[:MAX_ERRORS]


def validate_record(validator: jsonschema_rs.Draft202012Validator, data: Any) -> None:
    """422 naming every error's JSON path, the first one as the problem's field."""
    errors = record_errors(validator, data)
    if errors:
        detail = _("The record does not match the dataset's schema: %(count)s error(s)") % {"count": len(errors)}
        raise Invalid(detail, field=errors[0]["path"], errors=[{"field": e["path"], **e} for e in errors])
