"""Raw telemetry on the driver, one class per database: bulk writes, latest values, and downsampling.

No ORM object is made per reading. PostgreSQL takes each group of rows with
``COPY`` (``copy_records_to_table``) and SQLite with ``executemany``, both inside
one transaction that also moves the latest values and marks the senders online.
Downsampling is done by the database: ``date_bin`` on PostgreSQL, integer division of
epoch microseconds on SQLite (whose raw table keeps time as such). The same transaction
marks every hour it wrote readings in as dirty, for the hourly rollup
(:mod:`tulou.devices.aggregates`) to recompute.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from tulou.devices.models import Connection, DeviceEventRecord

RAW_TABLE = "core_telemetry"
RAW_COLUMNS = ("device_id", "property_id", "ts", "value", "text_value")
AGGREGATES = {"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "count": "count(*)"}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)
HOUR = timedelta(hours=1)
HOUR_MICROSECONDS = HOUR // MICROSECOND
SQLITE_CHUNK = 500
WRITER_SLOTS = 64

#: One stored reading of one property: device, property, time (as the store encodes it), number, text.
Row = tuple[int, int, Any, float | None, str | None]


@dataclass(frozen=True)
class SeriesQuery:
    """Readings of some properties of one device in ``[start, end)``, raw or one value per ``interval``."""

    device_id: int
    property_ids: tuple[int, ...]
    start: datetime
    end: datetime
    agg: str | None = None
    interval: timedelta | None = None
    limit: int = 10_000


@dataclass(frozen=True)
class SeriesPoint:
    property_id: int
    t: datetime
    value: float | None
    text: str | None = None


class TelemetryStore(Protocol):
    dialect: str

    def encode_time(self, moment: datetime) -> Any:
        """A reading's time as the raw table keeps it."""

    def decode_time(self, stored: Any) -> datetime: ...

    async def write(self, rows: Sequence[Row], latest: Sequence[Row], seen_at: datetime,
                    senders: Iterable[int] = ()) -> list[DeviceEventRecord]:
        """Store the rows, move the latest values to ``latest`` (one row per device and property, in key order,
        so concurrent writers lock rows in one order), mark the devices of the rows and the ``senders`` (a
        gateway relaying them) seen; the connection events it caused."""

    async def series(self, query: SeriesQuery) -> list[SeriesPoint]: ...


async def _came_online(client: BaseDBAsyncClient, sql: str, values: list[Any], at: datetime) -> list[DeviceEventRecord]:
    """Flip the devices that were not online and record one event each."""
    _count, flipped = await client.execute_query(sql, values)
    return [
        await DeviceEventRecord.create(device_id=row["id"], kind="connection", state=Connection.ONLINE.value, at=at,
                                       using_db=client)
        for row in flipped
    ]


class PostgresTelemetryStore:
    dialect = "postgres"
    # Rows locked in hour order, and updated rather than left alone, so the rollup's delete waits for this commit.
    DIRTY = ("INSERT INTO core_telemetry_dirty_hour (hour, writer) "
             "SELECT unnest($1::timestamptz[]), $2::smallint ORDER BY 1 "
             "ON CONFLICT (hour, writer) DO UPDATE SET writes = core_telemetry_dirty_hour.writes + 1")
    LATEST = (
        "INSERT INTO core_telemetry_latest (device_id, property_id, ts, value, text_value) "
        "SELECT * FROM unnest($1::int[], $2::int[], $3::timestamptz[], $4::float8[], $5::text[]) "
        "ON CONFLICT (device_id, property_id) DO UPDATE SET ts = EXCLUDED.ts, value = EXCLUDED.value, "
        "text_value = EXCLUDED.text_value WHERE core_telemetry_latest.ts <= EXCLUDED.ts"
    )
    SEEN = "UPDATE core_device SET last_seen_at = $1 WHERE id = ANY($2::int[])"
    # Wrapped in WITH: Tortoise's asyncpg client drops what a statement starting with UPDATE returns.
    ONLINE = ("WITH flipped AS (UPDATE core_device SET connection = 'online' WHERE id = ANY($1::int[]) "
              "AND connection <> 'online' RETURNING id) SELECT id FROM flipped")

    def encode_time(self, moment: datetime) -> datetime:
        return moment

    def decode_time(self, stored: datetime) -> datetime:
        return stored

    async def write(self, rows: Sequence[Row], latest: Sequence[Row], seen_at: datetime,
                    senders: Iterable[int] = ()) -> list[DeviceEventRecord]:
        devices = sorted({row[0] for row in latest}.union(senders))
        async with in_transaction() as client:
            async with client.acquire_connection() as connection:
                await connection.copy_records_to_table(RAW_TABLE, records=rows, columns=RAW_COLUMNS)
                hours = sorted({EPOCH + (t - EPOCH) // HOUR * HOUR for t in _times(rows)})
                await connection.execute(self.DIRTY, hours, writer_slot())
                await connection.execute(self.LATEST, *map(list, zip(*latest)))
                await connection.execute(self.SEEN, seen_at, devices)
            return await _came_online(client, self.ONLINE, [devices], seen_at)

    async def series(self, query: SeriesQuery) -> list[SeriesPoint]:
        window = [query.device_id, list(query.property_ids), query.start, query.end]
        if query.agg is None:
            sql = ("SELECT property_id, ts, value, text_value FROM core_telemetry WHERE device_id = $1 "
                   "AND property_id = ANY($2::int[]) AND ts >= $3 AND ts < $4 ORDER BY property_id, ts LIMIT $5")
            found = await connections.get("default").execute_query_dict(sql, [*window, query.limit])
            return [SeriesPoint(r["property_id"], r["ts"], r["value"], r["text_value"]) for r in found]
        sql = (f"SELECT property_id, date_bin($5::interval, ts, $6::timestamptz) AS bucket, "
               f"{AGGREGATES[query.agg]} AS value FROM core_telemetry WHERE device_id = $1 "
               "AND property_id = ANY($2::int[]) AND ts >= $3 AND ts < $4 "
               "GROUP BY property_id, bucket ORDER BY property_id, bucket")
        found = await connections.get("default").execute_query_dict(sql, [*window, query.interval, EPOCH])
        return [SeriesPoint(r["property_id"], r["bucket"], r["value"]) for r in found]


def writer_slot() -> int:
    """This process's own row of each dirty hour, so worker processes never wait on one another's mark."""
    return os.getpid() % WRITER_SLOTS


def _times(rows: Sequence[Row]) -> set[Any]:
    """The distinct times of the rows: a reading's properties share one."""
    return {row[2] for row in rows}


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), SQLITE_CHUNK):
        yield values[start:start + SQLITE_CHUNK]


class SqliteTelemetryStore:
    dialect = "sqlite"
    DIRTY = ("INSERT INTO core_telemetry_dirty_hour (hour, writer) VALUES (?, ?) "
             "ON CONFLICT (hour, writer) DO UPDATE SET writes = core_telemetry_dirty_hour.writes + 1")
    INSERT = f"INSERT INTO {RAW_TABLE} ({', '.join(RAW_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"
    LATEST = (
        "INSERT INTO core_telemetry_latest (device_id, property_id, ts, value, text_value) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (device_id, property_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, "
        "text_value = excluded.text_value WHERE core_telemetry_latest.ts <= excluded.ts"
    )

    def encode_time(self, moment: datetime) -> int:
        return (moment - EPOCH) // MICROSECOND

    def decode_time(self, stored: int) -> datetime:
        return EPOCH + stored * MICROSECOND

    async def write(self, rows: Sequence[Row], latest: Sequence[Row], seen_at: datetime,
                    senders: Iterable[int] = ()) -> list[DeviceEventRecord]:
        # The latest table is the ORM's, which keeps time as ISO text in UTC: compared as text, it sorts as time.
        latest = [(d, p, self.decode_time(ts), v, t) for d, p, ts, v, t in latest]
        devices = sorted({row[0] for row in latest}.union(senders))
        async with in_transaction() as client:
            await client.execute_many(self.INSERT, rows)
            hours = sorted({t - t % HOUR_MICROSECONDS for t in _times(rows)})
            await client.execute_many(self.DIRTY, [(hour, writer_slot()) for hour in hours])
            await client.execute_many(self.LATEST, latest)
            events: list[DeviceEventRecord] = []
            for chunk in _chunks(devices):
                marks = _placeholders(len(chunk))
                await client.execute_query(f"UPDATE core_device SET last_seen_at = ? WHERE id IN ({marks})",
                                           [seen_at, *chunk])
                online = (f"UPDATE core_device SET connection = 'online' WHERE id IN ({marks}) "
                          "AND connection <> 'online' RETURNING id")
                events += await _came_online(client, online, list(chunk), seen_at)
            return events

    async def series(self, query: SeriesQuery) -> list[SeriesPoint]:
        marks = _placeholders(len(query.property_ids))
        window = [query.device_id, *query.property_ids, self.encode_time(query.start), self.encode_time(query.end)]
        where = f"WHERE device_id = ? AND property_id IN ({marks}) AND ts >= ? AND ts < ?"
        client = connections.get("default")
        if query.agg is None:
            sql = f"SELECT property_id, ts, value, text_value FROM {RAW_TABLE} {where} ORDER BY property_id, ts LIMIT ?"
            found = await client.execute_query_dict(sql, [*window, query.limit])
            return [SeriesPoint(r["property_id"], self.decode_time(r["ts"]), r["value"], r["text_value"]) for r in found]
        assert query.interval is not None
        width = query.interval // MICROSECOND
        sql = (f"SELECT property_id, (ts / {width}) * {width} AS bucket, {AGGREGATES[query.agg]} AS value "
               f"FROM {RAW_TABLE} {where} GROUP BY property_id, bucket ORDER BY property_id, bucket")
        found = await client.execute_query_dict(sql, window)
        return [SeriesPoint(r["property_id"], self.decode_time(r["bucket"]), r["value"]) for r in found]


def store_for(is_postgres: bool) -> TelemetryStore:
    return PostgresTelemetryStore() if is_postgres else SqliteTelemetryStore()
