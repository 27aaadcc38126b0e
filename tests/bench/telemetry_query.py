"""Downsampled telemetry queries over 10 million readings: hourly aggregates against raw readings, same run.

For each database (SQLite always; PostgreSQL when ``BENCH_POSTGRES`` names a server,
default ``postgres://postgres@127.0.0.1:5432/postgres``; ``BENCH_POSTGRES=`` skips it):

1. a migrated database gets N raw readings (``BENCH_QUERY_ROWS``, default 10,000,000):
   100 devices x 4 properties, one reading a minute, written by the database itself
   (``generate_series`` / a recursive CTE) with the indexes built afterwards, into day
   partitions on PostgreSQL; every hour is marked dirty, as writes mark them;
2. the rollup job's first pass over all of it (seconds, rows per second);
3. p50 / p95 latency of one device's 4 properties over 7 days at ``1h`` and at ``1d``,
   window edges inside an hour, each query on a random device: the baseline downsamples
   the raw readings in the database (the path before aggregates), the measured reads
   the hourly aggregates (what ``GET /api/v1/devices/{id}/telemetry?agg=&interval=`` does);
   both go through the store in process, so HTTP is left out of both;
4. the retention of 2 days of raw readings (dropping partitions / deleting rows hour by hour).

``BENCH_QUERIES`` queries per path (default 100). ``BENCH_EXPLAIN=1`` prints each path's plan.

    .venv/bin/python tests/bench/telemetry_query.py
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from exchange import POSTGRES, fresh_database  # tests/bench/exchange.py, beside this script

ROWS = int(os.environ.get("BENCH_QUERY_ROWS", "10000000"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "100"))
EXPLAIN = os.environ.get("BENCH_EXPLAIN") == "1"
DEVICES, PROPERTIES = 100, 4
MINUTES = ROWS // (DEVICES * PROPERTIES)
START = datetime(2025, 5, 1, tzinfo=timezone.utc)
SPAN = min(timedelta(days=7), timedelta(minutes=MINUTES // 2))  # a week's chart; shorter only for small trial runs
PURGED_DAYS = 2
VALUE = "20 + ((d * 7 + p * 13 + n * 31) % 97) / 10.0"
PG_LOAD = f"""
    INSERT INTO core_telemetry (device_id, property_id, ts, value)
    SELECT d, p, $1::timestamptz + n * interval '1 minute', {VALUE}
    FROM generate_series(0, $2::int - 1) AS n, generate_series(1, {DEVICES}) AS d, generate_series(1, {PROPERTIES}) AS p
"""
SQLITE_LOAD = f"""
    WITH RECURSIVE minute(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM minute WHERE n + 1 < ?2),
    device(d) AS (SELECT 1 UNION ALL SELECT d + 1 FROM device WHERE d < {DEVICES}),
    property(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM property WHERE p < {PROPERTIES})
    INSERT INTO core_telemetry (device_id, property_id, ts, value)
    SELECT d, p, ?1 + n * 60000000, {VALUE} FROM minute, device, property
"""
INDEXES = {
    "postgres": ["CREATE INDEX core_telemetry_device_property_ts ON core_telemetry (device_id, property_id, ts)",
                 "CREATE INDEX core_telemetry_ts_brin ON core_telemetry USING brin (ts)"],
    "sqlite": ["CREATE INDEX core_telemetry_device_property_ts ON core_telemetry (device_id, property_id, ts)",
               "CREATE INDEX core_telemetry_ts ON core_telemetry (ts)"],
}


async def load(dialect: Any, end: datetime) -> float:
    """Write the readings and mark their hours; seconds taken, index builds included."""
    from tortoise import connections
    from tulou.devices.hours import DAY, HOUR
    from tulou.devices.partitions import add_partition

    client = connections.get("default")
    kind = "postgres" if dialect.postgres else "sqlite"
    started = time.perf_counter()
    if dialect.postgres:
        day = START
        while day < end:
            await add_partition(day)
            day += DAY
    for create in INDEXES[kind]:
        await client.execute_script(f"DROP INDEX {create.split()[2]}")
    await client.execute_query(dialect.sql(PG_LOAD if dialect.postgres else SQLITE_LOAD),
                               [dialect.time(START), MINUTES])
    for create in INDEXES[kind]:
        await client.execute_script(create)
    hours = [[dialect.time(START + n * HOUR)] for n in range((end - START) // HOUR + 1)]
    await client.execute_many(dialect.sql("INSERT INTO core_telemetry_dirty_hour (hour) VALUES ($1)"), hours)
    if dialect.postgres:  # autovacuum would have; SQLite deployments run no ANALYZE
        await client.execute_script("ANALYZE")
    return time.perf_counter() - started


async def bytes_per_row(dialect: Any, url: str) -> tuple[float, float]:
    """Disk taken per raw reading and per hourly aggregate, indexes included (SQLite: the whole file per reading)."""
    from tortoise import connections

    client = connections.get("default")
    [aggregates] = await client.execute_query_dict("SELECT count(*) AS n FROM core_telemetry_hourly")
    if not dialect.postgres:
        return Path(url.removeprefix("sqlite://")).stat().st_size / ROWS, 0.0
    [row] = await client.execute_query_dict(
        "SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
        "WHERE inhparent = 'core_telemetry'::regclass) AS raw, pg_total_relation_size('core_telemetry_hourly') AS hourly")
    return float(row["raw"]) / ROWS, float(row["hourly"]) / aggregates["n"]


async def raw_count() -> int:
    from tortoise import connections

    [row] = await connections.get("default").execute_query_dict("SELECT count(*) AS n FROM core_telemetry")
    return int(row["n"])


def percentiles(seconds: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000


async def timed(run: Callable[[Any], Awaitable[Any]], queries: list[Any]) -> tuple[float, float, int]:
    """p50 and p95 in milliseconds, and the points the first query returned."""
    seconds, points = [], 0
    for number, query in enumerate(queries):
        started = time.perf_counter()
        found = await run(query)
        seconds.append(time.perf_counter() - started)
        points = points or len(found)
        if number == 0 and not found:
            raise RuntimeError("the query found nothing")
    return (*percentiles(seconds), points)


def queries(interval: timedelta, end: datetime, seed: int) -> list[Any]:
    from tulou.devices.telemetry_store import SeriesQuery

    rng = random.Random(seed)
    latest_start = end - SPAN - START
    picked = []
    for _ in range(QUERIES):
        start = START + timedelta(minutes=rng.randrange(latest_start // timedelta(minutes=1)), seconds=30)
        picked.append(SeriesQuery(rng.randint(1, DEVICES), tuple(range(1, PROPERTIES + 1)), start, start + SPAN,
                                  "avg", interval))
    return picked


async def explain(dialect: Any, query: Any) -> None:
    """Print the plan of one query read from the aggregates, and read from raw readings only (BENCH_EXPLAIN=1)."""
    from tortoise import connections

    from tulou.devices import aggregates

    client = connections.get("default")
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if dialect.postgres else "EXPLAIN QUERY PLAN "
    raw_from = await dialect.mark(client, aggregates.RAW_FROM)
    paths = {"hourly aggregates": aggregates.plan_reads(query.start, query.end, raw_from, []),
             "raw readings": aggregates.Reads(raw=[(query.start, query.end)], hourly=[])}
    for name, reads in paths.items():
        sql, values = aggregates.series_sql(dialect, query, reads)
        rows = await client.execute_query_dict(prefix + sql, values)
        print(f"-- {name}:", *(" | ".join(str(v) for v in row.values()) for row in rows), sep="\n", end="\n\n")


async def measure(url: str, label: str, results: list[tuple[str, str, str]]) -> None:
    from tulou.db.lifecycle import apply_migrations, close_database, open_database
    from tulou.devices import aggregates
    from tulou.devices.hours import DAY, Dialect
    from tulou.devices.retention import purge_raw
    from tulou.devices.telemetry_store import store_for
    from tulou.platform import build_platform

    platform = build_platform([], database={"url": url})
    await apply_migrations(platform.db_config)
    await open_database(platform.db_config)
    try:
        store = store_for(platform.settings.is_postgres)
        dialect = Dialect.of(store)
        end = START + timedelta(minutes=MINUTES)
        loaded = await load(dialect, end)
        results.append((f"{label}: load {ROWS:,} readings, build indexes", f"{loaded:,.1f} s", ""))
        started, hours = time.perf_counter(), 0
        while rolled_now := await aggregates.roll_up(store, end + DAY):
            hours += rolled_now
        rolled = time.perf_counter() - started
        results.append((f"{label}: first rollup, {hours} hours", f"{rolled:,.1f} s", f"{ROWS / rolled:,.0f} readings/s"))
        raw_bytes, hourly_bytes = await bytes_per_row(dialect, url)
        results.append((f"{label}: disk per raw reading" + (", per hourly aggregate" if hourly_bytes else " (whole file)"),
                        f"{raw_bytes:.0f} B", f"{hourly_bytes:.0f} B" if hourly_bytes else ""))
        for interval, name in ((timedelta(hours=1), "1h"), (timedelta(days=1), "1d")):
            picked = queries(interval, end, seed=len(name))
            if EXPLAIN:
                await explain(dialect, picked[0])
            raw50, raw95, raw_points = await timed(store.series, picked)
            agg50, agg95, agg_points = await timed(lambda q: aggregates.downsample(store, q), picked)
            assert raw_points == agg_points, (raw_points, agg_points)
            what = f"{label}: 1 device x {PROPERTIES} properties, {SPAN / DAY:.3g} days at {name}, {raw_points} points"
            results.append((f"{what}, raw readings (baseline)", f"p50 {raw50:.1f} ms", f"p95 {raw95:.1f} ms"))
            results.append((f"{what}, hourly aggregates", f"p50 {agg50:.1f} ms",
                            f"p95 {agg95:.1f} ms  ({raw50 / agg50:.1f}x faster at p50)"))
        before = await raw_count()
        started = time.perf_counter()
        spans = await purge_raw(dialect, START + PURGED_DAYS * DAY)
        purged = time.perf_counter() - started
        rows = before - await raw_count()
        results.append((f"{label}: retention of {PURGED_DAYS} days of raw readings, {spans} transactions",
                        f"{purged:,.1f} s", f"{rows / purged:,.0f} readings/s"))
    finally:
        await close_database()


async def main() -> None:
    results: list[tuple[str, str, str]] = []
    kinds = ["sqlite"] + (["postgres"] if POSTGRES else [])
    with tempfile.TemporaryDirectory() as directory:
        os.environ.setdefault("TULOU_DATA_DIR", directory)
        for kind in kinds:
            async with fresh_database(kind, Path(directory)) as url:
                await measure(url, "PostgreSQL" if kind == "postgres" else "SQLite", results)
    width = max(len(name) for name, _, _ in results)
    print(f"\ntelemetry queries: {ROWS:,} readings ({DEVICES} devices x {PROPERTIES} properties x {MINUTES:,} minutes), "
          f"{QUERIES} queries per path, avg")
    for name, first, second in results:
        print(f"{name:<{width}}  {first:>14}  {second}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
