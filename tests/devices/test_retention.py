"""Hourly aggregates and retention: downsampled series stay the same after raw readings are rolled up and purged.

The app keeps raw readings one day and aggregates three. A soil sensor reports every ten
minutes for three days; the upkeep job runs on a clock the test moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from tortoise import connections

from tests.conftest import ADMIN, ON_POSTGRES
from tests.devices.conftest import FakeClock, register_device, send
from tulou.devices import aggregates, retention
from tulou.devices.aggregates import Reads, downsample, plan_reads, roll_up
from tulou.devices.hours import RAW_FROM, Dialect, ceil
from tulou.devices.models import Device, TelemetryProperty
from tulou.devices.retention import keep_telemetry
from tulou.devices.telemetry_store import PostgresTelemetryStore, SeriesQuery, writer_slot
from tulou.jobs.core import CORE
from tulou.jobs.runner import run_job, scheduled_jobs
from tulou.settings import SettingsError, build_settings

START = datetime(2025, 6, 1, tzinfo=timezone.utc)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
EVERY = timedelta(minutes=10)
SENT_AT = START + 3 * DAY + EVERY
INTERVALS = {"1h": HOUR, "3h": 3 * HOUR, "1d": DAY}
WINDOWS = [(START, START + 3 * DAY), (START + timedelta(minutes=25), START + timedelta(days=2, hours=5, minutes=35))]


READINGS = 3 * 24 * 6
SENT = 3  # values per reading, raw rows per reading


def readings() -> list[dict[str, Any]]:
    """Three days every ten minutes: temperature in halves (its sums are exact), moisture in tenths (they are not),
    and a text status, which only ``count`` counts."""
    return [{"t": (START + n * EVERY).isoformat(),
             "values": {"temperature": ((n * 37) % 23) / 2 - 5.5, "moisture": round((n * 7.3) % 100, 1),
                        "status": "dry" if n % 5 else "ok"}}
            for n in range(READINGS)]


@pytest.fixture
async def client(serve: Callable[..., Any]) -> AsyncIterator[Any]:
    async with serve(devices={"raw_retention_days": 1, "aggregate_retention_days": 3}) as test_client:
        yield test_client


@pytest.fixture
async def sensor(client: Any, fake_clock: FakeClock) -> dict[str, Any]:
    fake_clock.moment = SENT_AT
    device = await register_device(client)
    assert (await send(client, device["token"], {"readings": readings()})).status_code == 200
    return device


async def series(client: Any, uid: str, start: datetime, end: datetime, **params: Any) -> Any:
    window = {"from": start.isoformat(), "to": end.isoformat()}
    return await client.get(f"/api/v1/devices/{uid}/telemetry", params={**window, **params}, headers=ADMIN)


async def points(client: Any, uid: str, start: datetime, end: datetime, **params: Any) -> list[tuple[datetime, Any]]:
    response = await series(client, uid, start, end, property="temperature", **params)
    assert response.status_code == 200, response.text
    [found] = response.json()["series"]
    return [(datetime.fromisoformat(p["t"]), p["value"]) for p in found["points"]]


async def query(uid: str, name: str, start: datetime, end: datetime, agg: str, interval: str) -> SeriesQuery:
    device = await Device.get(uid=uid)
    number = (await TelemetryProperty.get(name=name)).id
    return SeriesQuery(device.id, (number,), start, end, agg, INTERVALS[interval])


async def raw_count(client: Any) -> int:
    [row] = await connections.get("default").execute_query_dict("SELECT count(*) AS n FROM core_telemetry")
    return row["n"]


async def raw_from(client: Any) -> datetime | None:
    return await Dialect.of(client.app.state.devices.store).mark(connections.get("default"), RAW_FROM)


async def upkeep(client: Any) -> retention.Upkeep:
    return await keep_telemetry(client.app.state.platform)


def same(name: str, agg: str, got: list[Any], expected: list[Any]) -> None:
    assert [(p.property_id, p.t) for p in got] == [(p.property_id, p.t) for p in expected]
    if name != "moisture" or agg in ("min", "max", "count"):
        assert [p.value for p in got] == [p.value for p in expected]  # exact: sums of halves, or no numbers at all
    else:
        assert [p.value for p in got] == pytest.approx([p.value for p in expected], rel=1e-12)


@pytest.mark.parametrize("agg", ["avg", "min", "max", "count"])
async def test_series_are_the_same_from_raw_readings_aggregates_and_after_the_purge(
    client: Any, sensor: dict[str, Any], agg: str,
) -> None:
    """After the purge a window's partial first hour, its raw readings gone, is left out: whole hours only."""
    store = client.app.state.devices.store
    asked = [(window, interval, name) for window in WINDOWS for interval in INTERVALS
             for name in ("temperature", "moisture", "status")]
    from_raw = [await store.series(await query(sensor["id"], name, *window, agg, interval))
                for window, interval, name in asked]
    whole_hours = [await store.series(await query(sensor["id"], name, ceil(start, HOUR), end, agg, interval))
                   for (start, end), interval, name in asked]
    assert all(from_raw) and from_raw[0] == whole_hours[0] and from_raw != whole_hours

    assert await roll_up(store, SENT_AT) == 72
    rolled = [await downsample(store, await query(sensor["id"], name, *window, agg, interval))
              for window, interval, name in asked]
    report = await upkeep(client)
    assert (report.hours_rolled_up, report.raw_spans_purged) == (0, 2 if ON_POSTGRES else 48)
    assert await raw_from(client) == START + 2 * DAY
    purged = [await downsample(store, await query(sensor["id"], name, *window, agg, interval))
              for window, interval, name in asked]

    for (_window, _interval, name), *results in zip(asked, from_raw, whole_hours, rolled, purged):
        raw, whole, from_aggregates, after_purge = results
        same(name, agg, from_aggregates, raw)
        same(name, agg, after_purge, whole)


async def test_retention_keeps_one_day_of_raw_readings_and_answers_older_windows_by_the_hour(
    client: Any, sensor: dict[str, Any],
) -> None:
    hourly_before = await points(client, sensor["id"], START, START + 3 * DAY, agg="max", interval="1h")
    assert await raw_count(client) == SENT * READINGS
    await upkeep(client)
    assert await raw_count(client) == SENT * READINGS // 3  # the last day's
    assert await points(client, sensor["id"], START, START + 3 * DAY, agg="max", interval="1h") == hourly_before
    assert await points(client, sensor["id"], START, START + DAY) == []  # raw readings of the first day are gone
    assert len(await points(client, sensor["id"], START + 2 * DAY, START + 3 * DAY)) == 144

    refused = await series(client, sensor["id"], START, START + 3 * DAY, agg="avg", interval="20m")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "interval"
    recent = await points(client, sensor["id"], START + 2 * DAY, START + 3 * DAY, agg="count", interval="20m")
    assert [value for _t, value in recent] == [2] * 72


async def test_a_late_reading_is_counted_at_once_and_rolled_up_again(client: Any, sensor: dict[str, Any]) -> None:
    await upkeep(client)
    hour = START + 2 * DAY + 5 * HOUR  # rolled up, raw readings kept
    late = {"t": (hour + timedelta(minutes=3)).isoformat(), "values": {"temperature": 80.0}}
    assert (await send(client, sensor["token"], late)).status_code == 200
    expected = [(hour, 7)]
    assert await points(client, sensor["id"], hour, hour + HOUR, agg="count", interval="1h") == expected
    assert (await upkeep(client)).hours_rolled_up == 1
    assert await points(client, sensor["id"], hour, hour + HOUR, agg="count", interval="1h") == expected
    assert await points(client, sensor["id"], hour, hour + HOUR, agg="max", interval="1h") == [(hour, 80.0)]


async def test_a_reading_older_than_the_raw_horizon_is_folded_into_its_hour_once(
    client: Any, sensor: dict[str, Any],
) -> None:
    await upkeep(client)
    hour = START + 7 * HOUR  # raw readings purged
    before = await points(client, sensor["id"], hour, hour + HOUR, agg="avg", interval="1h")
    late = {"t": (hour + timedelta(minutes=1)).isoformat(), "values": {"temperature": -20.0}}
    assert (await send(client, sensor["token"], late)).status_code == 200
    counted = [(hour, 7)]
    assert await points(client, sensor["id"], hour, hour + HOUR, agg="count", interval="1h") == counted
    for _run in range(2):
        await upkeep(client)
        assert await points(client, sensor["id"], hour, hour + HOUR, agg="count", interval="1h") == counted
        assert await points(client, sensor["id"], hour, hour + HOUR) == []  # folded in: not a raw reading any more
    [(_t, average)] = await points(client, sensor["id"], hour, hour + HOUR, agg="avg", interval="1h")
    assert average == pytest.approx((before[0][1] * 6 - 20.0) / 7)


async def test_aggregates_are_kept_their_own_days(client: Any, sensor: dict[str, Any], fake_clock: FakeClock) -> None:
    await upkeep(client)
    fake_clock.advance(days=2)  # now the fifth day: aggregates of the first two days are past three days
    report = await upkeep(client)
    assert report.aggregate_days_purged == 2
    daily = await points(client, sensor["id"], START, START + 3 * DAY, agg="count", interval="1d")
    assert daily == [(START + 2 * DAY, 144)]
    assert await raw_count(client) == 0


async def test_purging_goes_a_span_at_a_time_and_never_before_the_rollup(
    client: Any, sensor: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregates, "HOURS_PER_RUN", 5)
    report = await upkeep(client)
    assert (report.hours_rolled_up, report.raw_spans_purged) == (5, 0)  # the sixth hour is not rolled up yet
    assert await raw_count(client) == SENT * READINGS and await raw_from(client) == START

    monkeypatch.setattr(aggregates, "HOURS_PER_RUN", 24 * 31)
    monkeypatch.setattr(retention, "SPANS_PER_RUN", 1)
    assert (await upkeep(client)).raw_spans_purged == 1
    span = DAY if ON_POSTGRES else HOUR
    assert await raw_from(client) == START + span
    assert await raw_count(client) == SENT * (READINGS - span // EVERY)
    assert (await upkeep(client)).raw_spans_purged == 1
    assert await raw_from(client) == START + 2 * span


async def test_the_rollup_can_be_repeated(client: Any, sensor: dict[str, Any]) -> None:
    await upkeep(client)
    async def hourly() -> list[tuple[Any, ...]]:  # sums of tenths may differ in the last bit if rows moved
        rows = await connections.get("default").execute_query_dict(
            "SELECT * FROM core_telemetry_hourly ORDER BY device_id, property_id, hour")
        return [(*(v for k, v in row.items() if k != "value_sum"), row["value_sum"] and round(row["value_sum"], 9))
                for row in rows]

    rolled = await hourly()
    dialect = Dialect.of(client.app.state.devices.store)
    marks = [[dialect.time(START + 2 * DAY + n * HOUR)] for n in range(24)]
    await connections.get("default").execute_many(dialect.sql(
        "INSERT INTO core_telemetry_dirty_hour (hour) VALUES ($1)"), marks)
    assert await roll_up(client.app.state.devices.store, SENT_AT) == 24
    assert await hourly() == rolled


@pytest.mark.skipif(not ON_POSTGRES, reason="day partitions are PostgreSQL's")
async def test_postgres_keeps_raw_readings_in_day_partitions_and_drops_old_ones(
    client: Any, sensor: dict[str, Any], fake_clock: FakeClock,
) -> None:
    db = connections.get("default")
    count = "SELECT count(*) AS n FROM core_telemetry_default"
    assert (await db.execute_query_dict(count))[0]["n"] == SENT * READINGS  # no partitions yet: all in the default
    report = await upkeep(client)
    assert report.partitions_added == 4  # the kept third day, moved out of the default, today and two ahead
    assert await partition_names() == ["core_telemetry_p20250603", "core_telemetry_p20250604",
                                       "core_telemetry_p20250605", "core_telemetry_p20250606"]
    assert (await db.execute_query_dict(count))[0]["n"] == 0
    fake_clock.advance(days=1)
    device = await register_device(client, serial="SN-0002")
    assert (await send(client, device["token"], {"values": {"moisture": 40}})).status_code == 200
    await upkeep(client)
    assert (await partition_names())[0] == "core_telemetry_p20250604"
    assert await raw_count(client) == 1


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite has one writer at a time")
async def test_a_write_committing_during_the_rollup_of_its_hour_is_not_lost(
    client: Any, sensor: dict[str, Any], database_url: str,
) -> None:
    await upkeep(client)
    hour = START + 2 * DAY + 5 * HOUR
    late = {"t": (hour + timedelta(minutes=1)).isoformat(), "values": {"temperature": 1.0}}
    assert (await send(client, sensor["token"], late)).status_code == 200  # the hour is dirty again
    device, number = (await Device.get(uid=sensor["id"])).id, (await TelemetryProperty.get(name="temperature")).id
    writer = await asyncpg.connect(database_url)
    try:
        async with writer.transaction():  # a write as the store makes it, not committed yet
            await writer.execute("INSERT INTO core_telemetry (device_id, property_id, ts, value) VALUES ($1, $2, $3, $4)",
                                 device, number, hour + timedelta(minutes=2), 2.0)
            await writer.execute(PostgresTelemetryStore.DIRTY, [hour], writer_slot())
            rolling = asyncio.create_task(roll_up(client.app.state.devices.store, SENT_AT))
            await asyncio.sleep(0.5)
            assert not rolling.done()  # waiting for the write's mark
        assert await rolling == 1
    finally:
        await writer.close()
    assert await points(client, sensor["id"], hour, hour + HOUR, agg="count", interval="1h") == [(hour, 8)]
    [marks] = await connections.get("default").execute_query_dict("SELECT count(*) AS n FROM core_telemetry_dirty_hour")
    assert marks["n"] == 0


async def partition_names() -> list[str]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'core_telemetry'::regclass AND c.relname <> 'core_telemetry_default' ORDER BY 1")
    return [row["name"] for row in rows]


async def test_upkeep_is_a_core_job(client: Any, sensor: dict[str, Any]) -> None:
    platform = client.app.state.platform
    [job] = [job for owner, job in scheduled_jobs(platform) if owner == CORE and job.id == "telemetry_upkeep"]
    (run,) = await run_job(platform, CORE, job)
    assert run.job_id == "tulou.telemetry_upkeep" and run.outcome.value == "succeeded"
    assert await raw_from(client) == START + 2 * DAY


def test_aggregates_must_be_kept_at_least_as_long_as_raw_readings() -> None:
    with pytest.raises(SettingsError, match="TULOU_DEVICES__AGGREGATE_RETENTION_DAYS"):
        build_settings(devices={"raw_retention_days": 90, "aggregate_retention_days": 30})


def test_a_series_reads_aggregates_for_clean_whole_hours_and_raw_readings_elsewhere() -> None:
    start, end = START + timedelta(minutes=30), START + 6 * HOUR + timedelta(minutes=10)
    dirty = [START + 4 * HOUR]
    assert plan_reads(start, end, None, dirty) == Reads(
        raw=[(start, START + HOUR), (START + 4 * HOUR, START + 5 * HOUR), (START + 6 * HOUR, end)],
        hourly=[(START + HOUR, START + 4 * HOUR), (START + 5 * HOUR, START + 6 * HOUR)],
    )
    horizon = START + 5 * HOUR  # raw readings before it are gone: late ones there are read with the aggregates
    assert plan_reads(start, end, horizon, dirty) == Reads(
        raw=[(start, START + 5 * HOUR), (START + 6 * HOUR, end)], hourly=[(START + HOUR, START + 6 * HOUR)],
    )
    assert plan_reads(start, start + HOUR, None, []) == Reads(raw=[(start, start + HOUR)], hourly=[])
    many = [START + n * HOUR for n in range(aggregates.MOST_DIRTY_HOURS + 1)]
    assert plan_reads(START, START + 100 * HOUR, None, many) == Reads(raw=[(START, START + 100 * HOUR)], hourly=[])
