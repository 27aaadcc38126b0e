"""Record filters: ``?filter[crop]=rice&filter[irrigated]=true`` keeps records whose top-level fields equal those values.

Only top-level properties the schema types as string, integer, number or boolean can
be filtered on; the query text is read as that type. The comparison runs in the
database on the JSON column: ``json_extract`` on SQLite, ``jsonb`` equality on
PostgreSQL (so ``3`` finds ``3.0``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from tortoise import connections
from tortoise.expressions import RawSQL
from tortoise.queryset import QuerySet

from tulou.errors import Invalid
from tulou.exchange.models import Record
from tulou.i18n import gettext as _

FILTER_PARAM = re.compile(r"^filter\[([A-Za-z_][A-Za-z0-9_]{0,99})\]$")
SCALAR_TYPES = ("string", "integer", "number", "boolean")
MAX_FILTERS = 10

Scalar = str | int | float | bool


def scalar_type(rule: Any) -> str | None:
    """The one scalar type a property holds (``["integer", "null"]`` counts as integer)."""
    declared = rule.get("type") if isinstance(rule, dict) else None
    types = [declared] if isinstance(declared, str) else list(declared or [])
    kinds = [kind for kind in types if kind != "null"]
    return kinds[0] if len(kinds) == 1 and kinds[0] in SCALAR_TYPES else None


def _typed(text: str, kind: str, param: str) -> Scalar:
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        raise Invalid(_("%(param)s must be a number") % {"param": param}, field=param) from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise Invalid(_("%(param)s must be true or false") % {"param": param}, field=param)
        return text == "true"
    return text


def record_filters(params: Iterable[tuple[str, str]], schema: dict[str, Any]) -> dict[str, Scalar]:
    """The ``filter[...]`` query parameters, read against the schema; 422 naming any that cannot apply."""
    found: dict[str, Scalar] = {}
    properties = schema.get("properties", {})
    for param, text in params:
        if not param.startswith("filter"):
            continue
        match = FILTER_PARAM.match(param)
        kind = scalar_type(properties.get(match.group(1))) if match else None
        if match is None or kind is None:
            raise Invalid(_("%(param)s: only string, number and true/false fields can be filtered on") % {"param": param},
                          field=param)
        found[match.group(1)] = _typed(text, kind, param)
    if len(found) > MAX_FILTERS:
        raise Invalid(_("At most %(count)s filters") % {"count": MAX_FILTERS}, field="filter")
    return found


def _dialect() -> str:
    return connections.get("default").capabilities.dialect


def apply_filters(query: QuerySet[Record], filters: dict[str, Scalar]) -> QuerySet[Record]:
    """``query`` narrowed to records whose ``data`` holds each field with its value.

    Field names reach the SQL text only after :data:`FILTER_PARAM` admitted them;
    values always travel as parameters.
    """
    postgres = _dialect() == "postgres"
    for n, (name, value) in enumerate(sorted(filters.items())):
        alias = f"filter_{n}"
        if postgres:
            query = query.annotate(**{alias: RawSQL(f"\"data\"->'{name}'")}).filter(**{alias: json.dumps(value)})
        else:
            query = query.annotate(**{alias: RawSQL(f"json_extract(\"data\", '$.{name}')")}).filter(**{alias: value})
    return query
