"""Write one JSON Schema per device-registry wire shape into ``schemas/``, from the msgspec Structs.

Generated, never edited by hand: ``tests/standards/test_devices_conformance.py`` fails
when this script's output and the committed files differ. Run it after changing a
wire shape::

    .venv/bin/python standards/devices/generate_schemas.py

``rejected-readings.schema.json`` (the 422 answer to a batch with refused readings) is
hand-written and not touched here.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import msgspec
from tulou import STANDARD_VERSION
from tulou.devices import schemas as devices
from tulou.devices import telemetry_schemas as telemetry
from tulou.identity.schemas import Page

SCHEMAS = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

SHAPES: tuple[type[msgspec.Struct], ...] = (
    devices.DeviceModelIn, devices.DeviceModelPatch, devices.DeviceModelOut,
    devices.DeviceIn, devices.DevicePatch, devices.DeviceOut, devices.DeviceTokenOut,
    devices.ProvisioningKeyIn, devices.ProvisioningKeyOut, devices.ProvisioningKeySecretOut, devices.ClaimIn,
    devices.DeviceEventOut,
    telemetry.TelemetryIn, telemetry.TelemetryAck, telemetry.LatestOut, telemetry.TelemetryOut,
)


def file_stem(name: str) -> str:
    """``DeviceModelOut`` to ``device-model-out``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def page_of(name: str, item: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The ``Page`` Struct with ``items`` typed as a list of ``item``."""
    fields = [(f.name, list[item] if f.name == "items" else f.type) for f in msgspec.structs.fields(Page)]
    return msgspec.defstruct(name, fields)


def generated() -> dict[str, dict[str, Any]]:
    """File name to schema, for every generated file."""
    raw = {file_stem(shape.__name__): msgspec.json.schema(shape) for shape in SHAPES}
    for name, item in (("DevicePage", devices.DeviceOut), ("ProvisioningKeyPage", devices.ProvisioningKeyOut),
                       ("DeviceEventPage", devices.DeviceEventOut)):
        raw[file_stem(name)] = msgspec.json.schema(page_of(name, item))
    raw["device-model-list"] = msgspec.json.schema(list[devices.DeviceModelOut])
    return {
        f"{stem}.schema.json": {"$schema": DIALECT, "$id": f"urn:tulou:standard:{STANDARD_VERSION}:devices:{stem}",
                                **schema}
        for stem, schema in sorted(raw.items())
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def main() -> int:
    SCHEMAS.mkdir(exist_ok=True)
    for name, schema in generated().items():
        (SCHEMAS / name).write_text(render(schema), encoding="utf-8")
        print(f"wrote schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
