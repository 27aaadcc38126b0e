"""A device's telemetry as the chart and its table show it: one property's averages over a chosen span.

The numbers come from :func:`tulou.devices.readings.series`, the query behind
``GET /api/v1/devices/{id}/telemetry?agg=avg&interval=1h``, with the same area check.
The chart reads them as JSON from the console (same session, same guard); the table
beside it is the same series for screen readers and browsers without scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tulou.devices import clock, readings
from tulou.devices.models import Device
from tulou.devices.telemetry_schema import PropertySpec, parse_properties
from tulou.devices.telemetry_store import TelemetryStore
from tulou.errors import Invalid
from tulou.i18n import lazy_gettext
from tulou.security.principal import Principal


@dataclass(frozen=True)
class Span:
    """A choice in the range picker: how far back, averaged over which interval."""

    key: str
    length: timedelta
    interval: str
    label: object


SPANS = {
    span.key: span for span in (
        Span("1h", timedelta(hours=1), "1m", lazy_gettext("Last hour, by minute")),
        Span("24h", timedelta(days=1), "1h", lazy_gettext("Last 24 hours, by hour")),
        Span("7d", timedelta(days=7), "1h", lazy_gettext("Last 7 days, by hour")),
    )
}
DEFAULT_SPAN = "24h"
#: How often an open device page asks for new readings, in seconds.
REFRESH_SECONDS = 30


def chartable(device: Device) -> list[PropertySpec]:
    """The model's numeric properties, which an average can be drawn of, by name."""
    specs = parse_properties(device.model.properties)
    return [spec for name, spec in sorted(specs.items()) if spec.type in ("number", "integer")]


@dataclass(frozen=True)
class ChartChoice:
    """What the picker asks for, made valid: an unknown property or span falls back to the first and the default."""

    spec: PropertySpec | None
    span: Span

    @classmethod
    def of(cls, device: Device, wanted: str | None, span: str | None) -> ChartChoice:
        specs = chartable(device)
        spec = next((spec for spec in specs if spec.name == wanted), specs[0] if specs else None)
        return cls(spec, SPANS.get(span or "", SPANS[DEFAULT_SPAN]))

    def query(self) -> str:
        return f"prop={self.spec.name if self.spec else ''}&span={self.span.key}"


@dataclass(frozen=True)
class Series:
    choice: ChartChoice
    start: datetime
    end: datetime
    points: list[tuple[datetime, float | None]]

    def as_json(self) -> dict[str, Any]:
        """The shape ``device_chart.js`` draws: epoch seconds and values, side by side."""
        spec = self.choice.spec
        return {
            "property": spec.name if spec else None, "unit": spec.unit if spec else "",
            "interval": self.choice.span.interval, "from": int(self.start.timestamp()), "to": int(self.end.timestamp()),
            "t": [int(moment.timestamp()) for moment, _value in self.points],
            "v": [value for _moment, value in self.points],
        }


async def averages(principal: Principal, store: TelemetryStore, device: Device, choice: ChartChoice) -> Series:
    """The chosen property's averages over the chosen span, oldest first (nothing when the model has no number)."""
    end = clock.now()
    start = end - choice.span.length
    if choice.spec is None:
        return Series(choice, start, end, [])
    try:
        found = await readings.series(principal, store, device.uid, start, end, choice.spec.name, "avg",
                                      choice.span.interval)
    except Invalid as refused:
        if refused.field != "property":
            raise
        return Series(choice, start, end, [])  # no device has reported this property yet
    points = [(point.t, _number(point.value)) for series in found.series for point in series.points]
    return Series(choice, found.start, found.end, sorted(points, key=lambda point: point[0]))


def _number(value: Any) -> float | None:
    return round(float(value), 3) if isinstance(value, int | float) and not isinstance(value, bool) else None
