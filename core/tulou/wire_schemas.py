"""Turning the wire Structs into the JSON Schema files each standard in ``standards/`` publishes.

Every standard's ``generate_schemas.py`` names its shapes and calls these, so the
three standards name, identify and format their files the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec

from tulou import STANDARD_VERSION

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def file_stem(name: str) -> str:
    """``PersonOut`` to ``person-out``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def page_of(name: str, page: type[msgspec.Struct], item: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The ``page`` Struct with ``items`` typed as a list of ``item``; every other field kept as it is."""
    fields = [(f.name, list[item] if f.name == "items" else f.type) for f in msgspec.structs.fields(page)]
    return msgspec.defstruct(name, fields)


def documents(standard: str, raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """File name to schema document, each with its dialect and an id naming the standard's version."""
    return {
        f"{stem}.schema.json": {"$schema": DIALECT, "$id": f"urn:tulou:standard:{STANDARD_VERSION}:{standard}:{stem}",
                                **schema}
        for stem, schema in sorted(raw.items())
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write(directory: Path, generated: dict[str, dict[str, Any]]) -> int:
    """Write every document into ``directory``; the exit status of a generator script."""
    directory.mkdir(exist_ok=True)
    for name, schema in generated.items():
        (directory / name).write_text(render(schema), encoding="utf-8")
        print(f"wrote schemas/{name}")
    return 0
