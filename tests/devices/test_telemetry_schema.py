"""The two validators compiled from a model agree: the one-call schema check and the per-value closures."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from tests.devices.conftest import SOIL_TELEMETRY
from tulou.devices.ingest import _checked_values
from tulou.devices.telemetry_schema import compile_checks, parse_properties, values_schema

SPECS = parse_properties(SOIL_TELEMETRY)
CHECKS = {name: (number, check, SPECS[name].type == "string")
          for number, (name, check) in enumerate(compile_checks(SPECS).items())}
PASSES = jsonschema_rs.validator_for(values_schema(SPECS)).is_valid

VALUES: list[dict[str, Any]] = [
    {"temperature": -40}, {"temperature": 85.0}, {"temperature": -40.0001}, {"temperature": 85.5},
    {"temperature": True}, {"temperature": None}, {"temperature": "20"}, {"temperature": [1]},
    {"temperature": 10**30}, {"temperature": -0.0},
    {"battery": 3.0}, {"battery": 3.5}, {"battery": 100}, {"battery": 101}, {"battery": False},
    {"charging": True}, {"charging": 0}, {"charging": "true"},
    {"status": "ok"}, {"status": "正常运行中" * 3}, {"status": "正常运行中" * 4}, {"status": 1}, {"status": ""},
    {"humidity": 1.0}, {"temperature": 20, "humidity": 1.0}, {"moisture": 50, "battery": 50, "charging": True},
]


@pytest.mark.parametrize("values", VALUES, ids=repr)
def test_the_schema_passes_exactly_what_the_closures_pass(values: dict[str, Any]) -> None:
    problems: list[dict[str, Any]] = []
    by_closures = _checked_values(0, values, 1, 0, CHECKS, problems) is not None
    assert PASSES(values) == by_closures, problems
