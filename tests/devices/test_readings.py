"""Telemetry out: latest values, raw series and downsampling computed by the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import ADMIN
from tests.devices.conftest import register_device, send

START = datetime(2025, 6, 1, 0, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def readings_over_three_hours() -> list[tuple[datetime, float, int]]:
    """A reading every 7 minutes: (time, temperature, battery), values varying irregularly."""
    return [(at(minute), round(((minute * 37) % 23) - 5.5, 2), 100 - minute // 10) for minute in range(0, 180, 7)]


async def series(client: Any, uid: str, **params: Any) -> Any:
    return await client.get(f"/api/v1/devices/{uid}/telemetry", params=params, headers=ADMIN)


@pytest.fixture
async def sensor(client: Any) -> dict[str, Any]:
    device = await register_device(client)
    batch = {"readings": [{"t": t.isoformat(), "values": {"temperature": temperature, "battery": battery,
                                                            "status": "ok"}}
                          for t, temperature, battery in readings_over_three_hours()]}
    assert (await send(client, device["token"], batch)).status_code == 200
    return device


def expected_buckets(width: timedelta, reduce: Any) -> list[tuple[datetime, float]]:
    buckets: dict[datetime, list[float]] = defaultdict(list)
    for t, temperature, _battery in readings_over_three_hours():
        start = START + ((t - START) // width) * width
        buckets[start].append(temperature)
    return [(start, reduce(values)) for start, values in sorted(buckets.items())]


@pytest.mark.parametrize("agg, reduce", [("avg", statistics.fmean), ("min", min), ("max", max), ("count", len)])
@pytest.mark.parametrize("interval, width", [("1h", timedelta(hours=1)), ("20m", timedelta(minutes=20))])
async def test_downsampling_matches_the_readings(
    client: Any, sensor: dict[str, Any], agg: str, reduce: Any, interval: str, width: timedelta,
) -> None:
    response = await series(client, sensor["id"], property="temperature", agg=agg, interval=interval,
                            **{"from": START.isoformat(), "to": at(180).isoformat()})
    assert response.status_code == 200, response.text
    [found] = response.json()["series"]
    assert found["property"] == "temperature" and found["unit"] == "CEL"
    got = [(datetime.fromisoformat(p["t"]), p["value"]) for p in found["points"]]
    expected = expected_buckets(width, reduce)
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert [v for _, v in got] == pytest.approx([v for _, v in expected])


async def test_the_window_is_half_open_and_raw_values_keep_their_type(client: Any, sensor: dict[str, Any]) -> None:
    response = await series(client, sensor["id"], **{"from": at(14).isoformat(), "to": at(28).isoformat()})
    by_property = {s["property"]: s["points"] for s in response.json()["series"]}
    assert [datetime.fromisoformat(p["t"]) for p in by_property["battery"]] == [at(14), at(21)]
    assert [p["value"] for p in by_property["battery"]] == [99, 98]
    assert [p["value"] for p in by_property["status"]] == ["ok", "ok"]
    limited = await series(client, sensor["id"], property="temperature", limit=3,
                           **{"from": START.isoformat(), "to": at(180).isoformat()})
    assert len(limited.json()["series"][0]["points"]) == 3


async def test_downsampling_every_property_leaves_out_text_unless_counting(client: Any, sensor: dict[str, Any]) -> None:
    window = {"from": START.isoformat(), "to": at(180).isoformat()}
    averaged = await series(client, sensor["id"], agg="avg", interval="1h", **window)
    assert [s["property"] for s in averaged.json()["series"]] == ["battery", "charging", "moisture", "temperature"]
    counted = await series(client, sensor["id"], agg="count", interval="1d", **window)
    counts = {s["property"]: [p["value"] for p in s["points"]] for s in counted.json()["series"]}
    assert counts["status"] == counts["temperature"] == [26] and counts["moisture"] == []
    refused = await series(client, sensor["id"], property="status", agg="avg", interval="1h", **window)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "agg"


async def test_a_property_of_the_model_with_no_reading_yet_has_an_empty_series(client: Any) -> None:
    """Before the first reading of a property anywhere: nothing found, which is no error in the query."""
    device = await register_device(client)
    response = await series(client, device["id"], property="charging")
    assert response.status_code == 200, response.text
    assert response.json()["series"] == []


@pytest.mark.parametrize("params, field", [
    ({"agg": "avg"}, "interval"),
    ({"interval": "1h"}, "agg"),
    ({"agg": "median", "interval": "1h"}, "agg"),
    ({"agg": "avg", "interval": "1 hour"}, "interval"),
    ({"agg": "avg", "interval": "1s", "from": "2020-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}, "interval"),
    ({"property": "humidity"}, "property"),
    ({"from": "2025-06-02T00:00:00Z", "to": "2025-06-01T00:00:00Z"}, "from"),
])
async def test_bad_queries_name_the_parameter(
    client: Any, sensor: dict[str, Any], params: dict[str, Any], field: str,
) -> None:
    response = await series(client, sensor["id"], **params)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


async def test_latest_values_are_the_newest_whatever_order_they_arrive_in(client: Any) -> None:
    device = await register_device(client)
    await send(client, device["token"], {"t": at(10).isoformat(), "values": {"temperature": 10.0, "charging": True}})
    await send(client, device["token"], {"t": at(5).isoformat(), "values": {"temperature": 5.0, "battery": 80}})
    latest = (await client.get(f"/api/v1/devices/{device['id']}/telemetry/latest", headers=ADMIN)).json()["values"]
    assert latest["temperature"]["value"] == 10.0 and latest["temperature"]["unit"] == "CEL"
    assert (latest["battery"]["value"], latest["charging"]["value"]) == (80, True)
    read = await client.get(f"/api/v1/devices/{device['id']}", headers=ADMIN)
    assert datetime.fromisoformat(read.json()["dateLastValueReported"]) == at(10)
