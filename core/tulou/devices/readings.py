"""Reading telemetry back: each device's latest values, and series over time, raw or downsampled by the database.

Staff see the readings of devices in their areas only (404 otherwise). A series is
raw readings, up to ``limit``, or with ``agg`` and ``interval`` one value per bucket,
buckets aligned on the Unix epoch (so hours start on the hour, days at 00:00 UTC).
Buckets of whole hours are read from the hourly aggregates where those are complete
(:mod:`tulou.devices.aggregates`), with the same result as from raw readings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from tulou.devices import clock
from tulou.devices.aggregates import downsample
from tulou.devices.models import Device, TelemetryLatest, TelemetryProperty
from tulou.devices.registry import get_device
from tulou.devices.telemetry_schema import PropertySpec, parse_properties
from tulou.devices.telemetry_schemas import LatestOut, LatestValue, PointOut, SeriesOut, TelemetryOut
from tulou.devices.telemetry_store import AGGREGATES, SeriesPoint, SeriesQuery, TelemetryStore
from tulou.errors import Invalid
from tulou.i18n import gettext as _
from tulou.security.principal import Principal

INTERVAL = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")
UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
MAX_BUCKETS = 10_000
DEFAULT_SPAN = timedelta(days=1)


def parse_interval(text: str) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``7d``: 422 for anything else."""
    match = INTERVAL.match(text)
    if match is None:
        raise Invalid(_("The interval is a number and s, m, h or d, such as 15m or 1h"), field="interval")
    return int(match.group(1)) * UNITS[match.group(2)]


def _shown(spec: PropertySpec | None, value: float | None, text: str | None) -> float | bool | str | None:
    """A stored value as its property's type: booleans and integers go back to what the device sent."""
    if text is not None or value is None or spec is None:
        return text if text is not None else value
    if spec.type == "boolean":
        return value != 0
    if spec.type == "integer" and value.is_integer():
        return int(value)
    return value


async def latest_values(principal: Principal, uid: str) -> LatestOut:
    device = await get_device(principal, uid)
    return LatestOut(device=device.uid, values=await latest_of(device))


async def latest_of(device: Device) -> dict[str, LatestValue]:
    """The newest value of each of the device's properties, by name, typed as its model says."""
    return (await latest_of_each([device]))[device.id]


async def latest_of_each(devices: Iterable[Device]) -> dict[int, dict[str, LatestValue]]:
    """:func:`latest_of` for a page of devices, by device number, in one query."""
    by_id = {device.id: device for device in devices}
    specs = {number: parse_properties(device.model.properties) for number, device in by_id.items()}
    values: dict[int, dict[str, LatestValue]] = {number: {} for number in by_id}
    if not by_id:
        return values
    rows = await (TelemetryLatest.filter(device_id__in=list(by_id)).select_related("property")
                  .order_by("device_id", "property__name"))
    for row in rows:
        spec = specs[row.device_id].get(row.property.name)
        values[row.device_id][row.property.name] = LatestValue(
            t=row.ts, value=_shown(spec, row.value, row.text_value), unit=spec.unit if spec else "")
    return values


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or clock.now()
    start = start or end - DEFAULT_SPAN
    for name, moment in (("from", start), ("to", end)):
        if moment.tzinfo is None:
            raise Invalid(_("Give the time with its offset from UTC"), field=name)
    if start >= end:
        raise Invalid(_("from must be before to"), field="from")
    return start, end


async def _properties(device: Device, wanted: str | None, agg: str | None) -> dict[int, tuple[str, PropertySpec | None]]:
    """Property number to (name, spec) of one property, or of all the model's that ``agg`` applies to.

    A property gets its number when its first reading is stored: one the model declares that has
    none yet has no number, and an empty series rather than an error."""
    specs = parse_properties(device.model.properties)
    numeric_only = agg is not None and agg != "count"
    names = [wanted] if wanted is not None else [name for name, spec in specs.items() if spec.numeric or not numeric_only]
    found = await TelemetryProperty.filter(name__in=names).values_list("id", "name")
    if wanted is not None and not found and wanted not in specs:
        raise Invalid(_("The device's model has no such property"), field="property")
    return {number: (name, specs.get(name)) for number, name in found}


def _check_aggregate(agg: str | None, interval: str | None, span: timedelta, specs: list[PropertySpec | None]) -> None:
    if (agg is None) != (interval is None):
        raise Invalid(_("Give agg and interval together"), field="agg" if agg is None else "interval")
    if agg is None or interval is None:
        return
    if agg not in AGGREGATES:
        raise Invalid(_("agg is avg, min, max or count"), field="agg")
    if span / parse_interval(interval) > MAX_BUCKETS:
        raise Invalid(_("Too many intervals: choose a longer one or a shorter span"), field="interval")
    if agg != "count" and any(spec is not None and not spec.numeric for spec in specs):
        raise Invalid(_("Only count applies to text properties"), field="agg")


async def series(
    principal: Principal, store: TelemetryStore, uid: str, start: datetime | None, end: datetime | None,
    prop: str | None = None, agg: str | None = None, interval: str | None = None, limit: int = 10_000,
) -> TelemetryOut:
    """One device's readings in ``[from, to)``, per property, raw or downsampled in the database."""
    device = await get_device(principal, uid)
    start, end = _window(start, end)
    properties = await _properties(device, prop, agg)
    _check_aggregate(agg, interval, end - start, [spec for _name, spec in properties.values()])
    query = SeriesQuery(device.id, tuple(sorted(properties)), start, end, agg,
                        parse_interval(interval) if interval else None, limit)
    points = [] if not properties else await (store.series(query) if agg is None else downsample(store, query))
    return TelemetryOut(device=device.uid, start=start, end=end, agg=agg, interval=interval,
                        series=_grouped(points, properties, raw=agg is None))


def _grouped(
    points: list[SeriesPoint], properties: dict[int, tuple[str, PropertySpec | None]], raw: bool,
) -> list[SeriesOut]:
    by_property: dict[int, list[PointOut]] = {number: [] for number in sorted(properties)}
    for point in points:
        spec = properties[point.property_id][1]
        value = _shown(spec, point.value, point.text) if raw else point.value
        by_property[point.property_id].append(PointOut(t=point.t, value=value))
    series = []
    for number, found in by_property.items():
        name, spec = properties[number]
        series.append(SeriesOut(property=name, points=found, unit=spec.unit if spec else ""))
    return series
