"""Validating wire documents against the standard's JSON Schemas, with ``jsonschema-rs``.

Errors come back as ``$.path: message`` lines, so a failing test says which field
broke which rule. Formats (``date``, ``date-time``) are checked too, as the spec
requires them. Validators are compiled once per schema.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs


@cache
def _validator(schema_text: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(json.loads(schema_text), validate_formats=True)


def _location(path: list[str | int]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``instance`` breaks ``schema``, as ``$.path: message``; empty when it conforms."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [f"{_location(list(error.instance_path))}: {error.message}" for error in validator.iter_errors(instance)]
