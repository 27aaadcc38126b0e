"""Schema evolution rules: a minor version only adds optional properties."""

from __future__ import annotations

from typing import Any

import pytest

from tulou.errors import Invalid
from tulou.exchange.evolution import canonical, fingerprint, incompatibilities
from tulou.exchange.validation import check_schema, json_path

BASE: dict[str, Any] = {
    "type": "object",
    "title": "Plots",
    "properties": {"crop": {"type": "string"}, "area_mu": {"type": "number", "minimum": 0}},
    "required": ["crop"],
    "additionalProperties": False,
}


def changed(**root: Any) -> dict[str, Any]:
    return {**BASE, **root}


def test_adding_an_optional_property_or_rewording_is_compatible() -> None:
    added = changed(properties={**BASE["properties"], "irrigated": {"type": "boolean"}})
    assert incompatibilities(BASE, added) == []
    assert incompatibilities(BASE, changed(title="Farm plots", description="All plots")) == []
    reordered = {"additionalProperties": False, "required": ["crop"], "type": "object",
                 "properties": {"area_mu": {"minimum": 0, "type": "number"}, "crop": {"type": "string"}}}
    assert incompatibilities(BASE, reordered) == []  # canonical JSON: key order does not matter


@pytest.mark.parametrize(("new", "reason"), [
    (changed(properties={"crop": {"type": "string"}}), "property area_mu was removed"),
    (changed(properties={**BASE["properties"], "crop": {"type": "string", "maxLength": 20}}), "property crop changed"),
    (changed(properties={**BASE["properties"], "soil": {"type": "string"}}, required=["crop", "soil"]),
     "new property soil is required"),
    (changed(required=["crop", "area_mu"]), "keyword required changed"),
    (changed(additionalProperties=True), "keyword additionalProperties changed"),
    (changed(minProperties=1), "keyword minProperties changed"),
])
def test_anything_else_needs_a_new_major(new: dict[str, Any], reason: str) -> None:
    assert reason in incompatibilities(BASE, new)


def test_fingerprints_ignore_key_order_only() -> None:
    assert canonical({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1}) != fingerprint({"a": 2, "b": 2})


@pytest.mark.parametrize("schema", [
    {"type": "array"},
    ["not", "an", "object"],
    {"type": "object", "properties": {"x": {"type": "nonsense"}}},
    {"type": "object", "properties": {"x": {"type": "string", "pattern": "("}}},
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
    {"type": "object", "properties": {"x": {"$ref": "http://127.0.0.1:9/remote.json"}}},
])
def test_only_offline_2020_12_object_schemas_are_accepted(schema: Any) -> None:
    with pytest.raises(Invalid) as raised:
        check_schema(schema)
    assert raised.value.field == "schema"


def test_json_paths_name_odd_keys_in_brackets() -> None:
    assert json_path(["owners", 2, "name"]) == "$.owners[2].name"
    assert json_path(["plot no", 0]) == '$["plot no"][0]'
    assert json_path([]) == "$"
