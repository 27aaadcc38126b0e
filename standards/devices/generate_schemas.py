"""Write one JSON Schema per device-registry wire shape into ``schemas/``, from the msgspec Structs.

Generated, never edited by hand: ``tests/standards/test_devices_conformance.py`` fails
when this script's output and the committed files differ. Run it after changing a
wire shape::

    .venv/bin/python standards/devices/generate_schemas.py

``rejected-readings.schema.json`` (the 422 answer to a batch with refused readings) is
hand-written and not touched here. ``alert-record.schema.json`` is the schema of the
``devices.alerts`` dataset's records, version 1.0, as the core declares it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec
from tulou.devices import alert_schemas as alerts
from tulou.devices import schemas as devices
from tulou.devices.alerts_dataset import SCHEMA_1_0 as ALERT_RECORD
from tulou.devices import telemetry_schemas as telemetry
from tulou.identity.schemas import Page
from tulou.wire_schemas import documents, file_stem, page_of, render, write  # noqa: F401 - render: the conformance test renders with it

SCHEMAS = Path(__file__).parent / "schemas"

SHAPES: tuple[type[msgspec.Struct], ...] = (
    devices.DeviceModelIn, devices.DeviceModelPatch, devices.DeviceModelOut,
    devices.DeviceIn, devices.DevicePatch, devices.DeviceOut, devices.DeviceTokenOut,
    devices.ProvisioningKeyIn, devices.ProvisioningKeyOut, devices.ProvisioningKeySecretOut, devices.ClaimIn,
    devices.DeviceEventOut, devices.DeviceErrorsOut,
    telemetry.TelemetryIn, telemetry.TelemetryAck, telemetry.LatestOut, telemetry.TelemetryOut,
    alerts.AlertOut, alerts.DeviceAlertRuleOut,
)


def generated() -> dict[str, dict[str, Any]]:
    """File name to schema, for every generated file."""
    raw = {file_stem(shape.__name__): msgspec.json.schema(shape) for shape in SHAPES}
    for name, item in (("DevicePage", devices.DeviceOut), ("ProvisioningKeyPage", devices.ProvisioningKeyOut),
                       ("DeviceEventPage", devices.DeviceEventOut), ("AlertPage", alerts.AlertOut)):
        raw[file_stem(name)] = msgspec.json.schema(page_of(name, Page, item))
    raw["device-model-list"] = msgspec.json.schema(list[devices.DeviceModelOut])
    raw["alert-rule"] = msgspec.json.schema(alerts.AlertRule)
    raw["device-alert-rule-list"] = msgspec.json.schema(list[alerts.DeviceAlertRuleOut])
    raw["alert-record"] = {key: value for key, value in ALERT_RECORD.items() if key != "$schema"}
    return documents("devices", raw)


if __name__ == "__main__":
    sys.exit(write(SCHEMAS, generated()))
