"""``devices.alerts``: the exchange dataset the core declares, one record per alert, for subscribers and plugins.

The core registers it at start-up as plugins register theirs, owned by ``tulou``
and a draft until the county publishes it (names its owner, manager and area).
From then on each raise, clear and acknowledgement writes the alert's record in
the transaction that changes the alert: a raise creates it, the rest write its next
version, and the change feed and subscriptions carry each one. Its NGSI-LD form is
the FIWARE ``Alert`` model.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tulou.devices.alert_models import Alert
from tulou.exchange.core_records import put_core_record
from tulou.exchange.plugin_datasets import sync_dataset
from tulou.i18n import lazy_gettext
from tulou.jobs.core import CORE
from tulou.plugins.registrations import DatasetSchema

ALERTS = "devices.alerts"
MAJOR = 1
ACTOR = "tulou:devices"
_TIME = {"type": "string", "format": "date-time"}

SCHEMA_1_0: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "device": {"type": "string", "pattern": "^dev_[a-z2-7]{12}$"},
        "refDeviceModel": {"type": "string"},
        "rule": {"type": "string"},
        "kind": {"enum": ["threshold", "absence", "rate"]},
        "property": {"type": "string"},
        "severity": {"enum": ["informational", "low", "medium", "high", "critical"]},
        "description": {"type": "string"},
        "state": {"enum": ["open", "cleared"]},
        "raisedAt": _TIME,
        "clearedAt": _TIME,
        "acknowledgedAt": _TIME,
        "value": {"type": ["number", "boolean", "string"]},
    },
    "required": ["device", "refDeviceModel", "rule", "kind", "severity", "state", "raisedAt"],
    "additionalProperties": False,
}

VERSIONS = (
    DatasetSchema(
        id=ALERTS, version="1.0", title=lazy_gettext("Device alerts"),
        description=lazy_gettext("Alerts raised and cleared by the rules of devices: frost, silence, sudden change"),
        schema=SCHEMA_1_0, classification="internal", smart_data_model="Alert",
        field_map={"device": {"attribute": "alertSource", "entity": "Device"}, "severity": "severity",
                   "description": "description", "raisedAt": "validFrom", "clearedAt": "validTo"},
    ),
)


async def declare_alerts_dataset() -> None:
    """Bring ``devices.alerts`` into the catalogue, as the core's."""
    await sync_dataset(CORE, VERSIONS)


def _instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def alert_record(alert: Alert, device: str, model: str) -> dict[str, Any]:
    """The alert as its record: what it is, and its state now; empty members left out."""
    data: dict[str, Any] = {
        "device": device, "refDeviceModel": model, "rule": alert.rule, "kind": alert.kind, "severity": alert.severity,
        "state": "open" if alert.cleared_at is None else "cleared", "raisedAt": _instant(alert.raised_at),
    }
    optional = {"property": alert.property, "description": alert.description or None, "value": alert.value,
                "clearedAt": alert.cleared_at and _instant(alert.cleared_at),
                "acknowledgedAt": alert.acknowledged_at and _instant(alert.acknowledged_at)}
    data.update({name: value for name, value in optional.items() if value is not None})
    return data


async def put_alert_record(alert: Alert, device: str, model: str) -> bool:
    """Inside the alert's transaction: its record, if the county has published the dataset where the alert is."""
    return await put_core_record(ALERTS, MAJOR, str(alert.id), alert.area_id, alert_record(alert, device, model), ACTOR)
