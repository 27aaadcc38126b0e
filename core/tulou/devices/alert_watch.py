"""Judging readings against the rules in force: each stored batch, after it is durable, and a job for silences.

Threshold and rate rules are judged on every batch once the writer has committed it,
off the request's path: the device has its answer already. Batches are judged one
after another in each process, readings in the order of their times; a reading no
newer than the open alert it would clear is passed over. Absence rules are judged by
the scheduled job, which also clears alerts whose rule or device no longer applies.
An alert is raised once and cleared once: the open one is looked up before each
change, and the database holds at most one open per device and rule.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tulou.devices import clock
from tulou.devices.alert_book import RuleBook, chunks
from tulou.devices.alert_models import Alert
from tulou.devices.alert_rules import AlertRule, DeviceWatches, Watch
from tulou.devices.alerts import clear_alert, open_alerts, raise_alert
from tulou.devices.events import announce
from tulou.devices.models import Device, DeviceEventRecord, DeviceStatus, TelemetryLatest
from tulou.devices.telemetry_store import MICROSECOND, Row, SeriesQuery, TelemetryStore
from tulou.security.principal_cache import ProcessSignal

if TYPE_CHECKING:
    from tulou.platform import Platform

log = logging.getLogger(__name__)
#: Readings a rate rule looks at, at most, per batch: its window before the batch, and the batch.
RATE_READINGS = 100_000
#: When, whether it raises, whether it clears, and the value an alert would keep.
Decision = tuple[datetime, bool, bool, Any]
Opened = dict[tuple[int, str], Alert]


def instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _follow(device_id: int, rule: AlertRule, decisions: Sequence[Decision],
                  opened: Opened) -> list[DeviceEventRecord]:
    """Raise and clear as the decisions say, in time order, from the alert open now (if any)."""
    events: list[DeviceEventRecord] = []
    key = (device_id, rule.id)
    alert = opened.get(key)
    since = alert.raised_at if alert is not None else None
    for at, raises, clears, value in sorted(decisions, key=lambda decision: decision[0]):
        if since is not None and at <= since:
            continue
        if alert is None and raises:
            raised = await raise_alert(device_id, rule, at, value)
            if raised is None:  # another process raised it: it judges the rest
                break
            alert, event = raised
        elif alert is not None and clears:
            event = await clear_alert(alert, at, {"clearedValue": value})
            alert = None
        else:
            continue
        since = at
        if event is not None:
            events.append(event)
    if alert is None:
        opened.pop(key, None)
    else:
        opened[key] = alert
    return events


async def _rate_decisions(store: TelemetryStore, device_id: int, watch: Watch,
                          batch: list[tuple[datetime, Any]]) -> list[Decision]:
    """For each reading from the batch's first on: its change since the oldest reading of the window before it."""
    window = timedelta(seconds=watch.rule.seconds)  # type: ignore[union-attr]
    first, last = min(t for t, _v in batch), max(t for t, _v in batch)
    wanted = (watch.property_id,)  # type: ignore[arg-type]  # a rate rule names its property
    series = await store.series(SeriesQuery(device_id, wanted, first - window, last + MICROSECOND, limit=RATE_READINGS))
    known = [(point.t, point.value) for point in series if point.value is not None]
    decisions: list[Decision] = []
    oldest = 0
    for index, (t, value) in enumerate(known):
        while known[oldest][0] < t - window:
            oldest += 1
        if t < first:
            continue
        start, start_value = known[oldest]
        change = round(value - start_value, 9) if oldest < index and start < t else None
        decisions.append((t, watch.raises(change), watch.clears(change), change))
    return decisions


Readings = dict[int | None, list[tuple[datetime, Any]]]


def _by_property(store: TelemetryStore, rows: list[Row]) -> Readings:
    """One device's readings by property number, as times and stored values; under ``None``, all of them."""
    found: Readings = defaultdict(list)
    for _device, number, ts, value, text in rows:
        found[number].append((store.decode_time(ts), text if text is not None else value))
    found[None] = [reading for readings in list(found.values()) for reading in readings]
    return found


async def _thresholds(device_id: int, watches: DeviceWatches, readings: Readings,
                      opened: Opened) -> list[DeviceEventRecord]:
    events: list[DeviceEventRecord] = []
    for watch in watches.thresholds:
        found = readings.get(watch.property_id, ())
        decisions = [(t, watch.raises(v), watch.clears(v), watch.shown(v)) for t, v in found]
        events += await _follow(device_id, watch.rule, decisions, opened)
    return events


async def _rates(store: TelemetryStore, device_id: int, watches: DeviceWatches, readings: Readings,
                 opened: Opened) -> list[DeviceEventRecord]:
    events: list[DeviceEventRecord] = []
    for watch in watches.rates:
        if batch := readings.get(watch.property_id):
            decisions = await _rate_decisions(store, device_id, watch, batch)
            events += await _follow(device_id, watch.rule, decisions, opened)
    return events


async def _absences_over(device_id: int, watches: DeviceWatches, readings: Readings,
                         opened: Opened) -> list[DeviceEventRecord]:
    """Data came back: the open absence alerts of the properties heard clear now."""
    events: list[DeviceEventRecord] = []
    for watch in watches.absences:
        key = (device_id, watch.rule.id)
        alert, heard = opened.get(key), readings.get(watch.property_id)
        if alert is None or not heard:
            continue
        del opened[key]
        detail = {"lastValueAt": instant(max(t for t, _v in heard))}
        if (event := await clear_alert(alert, clock.now(), detail)) is not None:
            events.append(event)
    return events


async def judge_rows(store: TelemetryStore, book: RuleBook, rows: Sequence[Row]) -> list[DeviceEventRecord]:
    """Raise and clear the alerts a committed batch calls for; the device events it recorded."""
    watched = {device: watches for device, watches in (await book.for_devices({row[0] for row in rows})).items()
               if not watches.empty}
    if not watched:
        return []
    by_device: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        if row[0] in watched:
            by_device[row[0]].append(row)
    opened = await open_alerts(sorted(watched))
    events: list[DeviceEventRecord] = []
    for device_id, watches in watched.items():
        readings = _by_property(store, by_device[device_id])
        events += await _thresholds(device_id, watches, readings, opened)
        events += await _rates(store, device_id, watches, readings, opened)
        events += await _absences_over(device_id, watches, readings, opened)
    return events


class AlertWatch:
    """Judges each committed batch in turn, then tells plugins of the alerts it raised and cleared."""

    def __init__(self, platform: Platform, store: TelemetryStore, book: RuleBook) -> None:
        self.platform, self.store, self.book = platform, store, book
        self._turn = asyncio.Lock()

    async def readings_stored(self, rows: Sequence[Row]) -> None:
        async with self._turn:
            try:
                events = await judge_rows(self.store, self.book, rows)
            except Exception:  # noqa: BLE001 - the readings are stored whatever the rules make of them
                log.exception("judging %d readings against alert rules failed", len(rows))
                return
        await announce(self.platform, events)


# -- the scheduled job -------------------------------------------------------------------


async def _latest_times(device_ids: Sequence[int]) -> dict[int, dict[int | None, datetime]]:
    """The time of each device's newest reading of each property and, under ``None``, of any."""
    found: dict[int, dict[int | None, datetime]] = defaultdict(dict)
    for chunk in chunks(device_ids):
        for device_id, number, ts in await TelemetryLatest.filter(device_id__in=chunk) \
                .values_list("device_id", "property_id", "ts"):
            times = found[device_id]
            times[number] = ts
            times[None] = max(ts, times.get(None, ts))
    return found


async def _silence(device_id: int, watch: Watch, last: datetime | None, alert: Alert | None,
                   now: datetime) -> DeviceEventRecord | None:
    """Raise the absence alert of a device silent past its rule, or clear it once it spoke again."""
    if last is None:  # never heard: nothing fell silent
        return None
    silent = now - last > timedelta(seconds=watch.rule.seconds)  # type: ignore[union-attr]
    detail = {"lastValueAt": instant(last)}
    if silent and alert is None:
        raised = await raise_alert(device_id, watch.rule, now, None, detail)
        return raised[1] if raised is not None else None
    if not silent and alert is not None:
        return await clear_alert(alert, now, detail)
    return None


async def raise_silences(book: RuleBook, now: datetime) -> list[DeviceEventRecord]:
    """Raise absence alerts on devices silent past their rules, and clear those that spoke again."""
    ids = await Device.filter(status=DeviceStatus.ACTIVE, last_seen_at__isnull=False).values_list("id", flat=True)
    watched = {device: w for device, w in (await book.for_devices(ids)).items() if w.absences}
    if not watched:
        return []
    latest, opened = await _latest_times(sorted(watched)), await open_alerts(sorted(watched), kind="absence")
    events: list[DeviceEventRecord] = []
    for device_id, watches in watched.items():
        for watch in watches.absences:
            last = latest.get(device_id, {}).get(watch.property_id)
            if (event := await _silence(device_id, watch, last, opened.get((device_id, watch.rule.id)), now)):
                events.append(event)
    return events


async def clear_stale(book: RuleBook, now: datetime,
                      device_ids: Sequence[int] | None = None) -> list[DeviceEventRecord]:
    """Clear open alerts whose rule is gone, off or of another kind now, or whose device is no longer active."""
    query = Alert.filter(cleared_at=None)
    if device_ids is not None:
        query = query.filter(device_id__in=device_ids)
    stale = await query.order_by("id")
    books = await book.for_devices({alert.device_id for alert in stale})
    events: list[DeviceEventRecord] = []
    for alert in stale:
        watches = books.get(alert.device_id)
        if watches is not None and watches.applies(alert.rule, alert.kind):
            continue
        reason = "device_inactive" if watches is None else "rule_withdrawn"
        if (event := await clear_alert(alert, now, {"reason": reason})) is not None:
            events.append(event)
    return events


async def check_device_alerts(platform: Platform) -> int:
    """The scheduled job: absence alerts raised and cleared, stale ones cleared, plugins told; how many events."""
    book, now = RuleBook(ProcessSignal()), clock.now()
    events = await raise_silences(book, now) + await clear_stale(book, now)
    await announce(platform, events)
    return len(events)
