"""Hourly aggregates of telemetry: rolled up from raw readings, and read back by downsampled series.

Per device, property and hour the table keeps how many readings there were, how many of
them were numbers, and the numbers' sum, minimum and maximum (an average is the sum over
the numbers), so any interval of whole hours is computed from it exactly as from the raw
readings. Every write of raw readings marks the hours it touched as dirty in the same
transaction; the upkeep job recomputes each dirty hour once it has been over for
:data:`SETTLE`, and removes the mark. An hour without a mark therefore has aggregates that
match its raw readings, however late a reading arrived: that is the rollup's watermark.

Hours before the raw horizon (``raw_from``, moved forward by retention) keep no raw
readings. A reading arriving that late is folded into the hour's aggregates and removed
from the raw table, in one transaction, so it is never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from tulou.devices.hours import HOUR, RAW_FROM, Dialect, ceil, floor, runs
from tulou.devices.telemetry_store import SeriesPoint, SeriesQuery, TelemetryStore
from tulou.errors import Invalid
from tulou.i18n import gettext as _

#: How long after an hour ends it is rolled up, so that readings sent at its close make it in.
SETTLE = timedelta(minutes=5)
HOURS_PER_TRANSACTION = 12
HOURS_PER_RUN = 24 * 31
#: Past this many dirty hours in one window, a series reads raw readings for all hours that still have them.
MOST_DIRTY_HOURS = 64

HOURLY_COLUMNS = "device_id, property_id, hour, reading_count, value_count, value_sum, value_min, value_max"
PARTIALS = ("count(*) AS readings, count(value) AS numbers, sum(value) AS total, min(value) AS lowest, "
            "max(value) AS highest")
HOURLY_PARTIALS = ("sum(reading_count) AS readings, sum(value_count) AS numbers, sum(value_sum) AS total, "
                   "min(value_min) AS lowest, max(value_max) AS highest")
FINAL = {
    "avg": "sum(total) / CAST(NULLIF(sum(numbers), 0) AS DOUBLE PRECISION)",
    "min": "min(lowest)",
    "max": "max(highest)",
    "count": "CAST(sum(readings) AS BIGINT)",
}

Span = tuple[datetime, datetime]


def _rollup_sql(dialect: Dialect, source: str) -> str:
    """Group ``source``'s rows in ``[$1, $2)`` into the hourly table, adding to any aggregates already there."""
    keep, least, greatest = "core_telemetry_hourly", *(("LEAST", "GREATEST") if dialect.postgres else ("min", "max"))
    return dialect.sql(
        f"INSERT INTO {keep} ({HOURLY_COLUMNS}) SELECT device_id, property_id, {dialect.bucket('ts', HOUR)}, "
        f"{PARTIALS} FROM {source} WHERE ts >= $1 AND ts < $2 GROUP BY 1, 2, 3 "
        "ON CONFLICT (device_id, property_id, hour) DO UPDATE SET "
        f"reading_count = {keep}.reading_count + excluded.reading_count, "
        f"value_count = {keep}.value_count + excluded.value_count, "
        f"value_sum = COALESCE({keep}.value_sum + excluded.value_sum, {keep}.value_sum, excluded.value_sum), "
        f"value_min = COALESCE({least}({keep}.value_min, excluded.value_min), {keep}.value_min, excluded.value_min), "
        f"value_max = COALESCE({greatest}({keep}.value_max, excluded.value_max), {keep}.value_max, excluded.value_max)"
    )


async def _recompute(client: BaseDBAsyncClient, dialect: Dialect, span: list[object]) -> None:
    """Hours whose raw readings are all there: their aggregates are made again from them."""
    await client.execute_query(dialect.sql("DELETE FROM core_telemetry_hourly WHERE hour >= $1 AND hour < $2"), span)
    await client.execute_query(_rollup_sql(dialect, "core_telemetry"), span)


async def _fold_in(client: BaseDBAsyncClient, dialect: Dialect, span: list[object]) -> None:
    """Hours before the raw horizon: late readings are added to the aggregates and leave the raw table."""
    if dialect.postgres:  # one statement, so exactly the rows deleted are the rows added
        taken = "(DELETE FROM core_telemetry WHERE ts >= $1 AND ts < $2 RETURNING ts, device_id, property_id, value)"
        await client.execute_query(f"WITH taken AS {taken} " + _rollup_sql(dialect, "taken"), span)
        return
    await client.execute_query(_rollup_sql(dialect, "core_telemetry"), span)  # SQLite: the transaction holds the file
    await client.execute_query(dialect.sql("DELETE FROM core_telemetry WHERE ts >= $1 AND ts < $2"), span)


async def roll_up(store: TelemetryStore, now: datetime) -> int:
    """Recompute the dirty hours that ended :data:`SETTLE` before ``now``, a run of hours per transaction.

    The mark is deleted first: on PostgreSQL that waits for writers still holding it,
    and a writer committing after the recompute marks the hour again. Returns how many
    hours were rolled up; at most :data:`HOURS_PER_RUN`, the next run goes on.
    """
    dialect = Dialect.of(store)
    client = connections.get("default")
    found = await client.execute_query_dict(dialect.sql(
        "SELECT DISTINCT hour FROM core_telemetry_dirty_hour WHERE hour < $1 ORDER BY hour LIMIT $2"
    ), [dialect.time(floor(now - SETTLE, HOUR)), HOURS_PER_RUN])
    hours = [dialect.moment(row["hour"]) for row in found]
    raw_from = await dialect.mark(client, RAW_FROM)
    late = [hour for hour in hours if raw_from is not None and hour < raw_from]  # sorted: a prefix of hours
    for kept, chosen in ((True, hours[len(late):]), (False, late)):
        for start, end in runs(chosen, HOURS_PER_TRANSACTION):
            span = [dialect.time(start), dialect.time(end)]
            async with in_transaction() as transaction:
                await transaction.execute_query(dialect.sql(
                    "DELETE FROM core_telemetry_dirty_hour WHERE hour >= $1 AND hour < $2"), span)
                await (_recompute if kept else _fold_in)(transaction, dialect, span)
    return len(hours)


# -- reading series from the aggregates -------------------------------------------------


@dataclass(frozen=True)
class Reads:
    """Where a downsampled series comes from: raw readings in some spans, hourly aggregates in others."""

    raw: list[Span]
    hourly: list[Span]


def _without(span: Span, holes: list[Span]) -> list[Span]:
    """``span`` minus the sorted, disjoint ``holes``."""
    start, end = span
    left = []
    for low, high in holes:
        if high <= start or low >= end:
            continue
        if low > start:
            left.append((start, low))
        start = max(start, high)
    if start < end:
        left.append((start, end))
    return left


def plan_reads(start: datetime, end: datetime, raw_from: datetime | None, dirty: list[datetime]) -> Reads:
    """Which spans of ``[start, end)`` to read where, for buckets of whole hours.

    Whole hours before the raw horizon come from the aggregates, together with any raw
    readings there (late ones, not yet folded in). Later whole hours without a dirty mark
    come from the aggregates alone; everything else, partial hours at the window's edges
    included, from raw readings.
    """
    first, last = ceil(start, HOUR), floor(end, HOUR)
    if first >= last:
        return Reads(raw=[(start, end)], hourly=[])
    horizon = min(max(raw_from or first, first), last)
    marked = [] if len(dirty) > MOST_DIRTY_HOURS else [(hour, hour + HOUR) for hour in dirty if hour >= horizon]
    clean = _without((horizon, last), marked) if len(dirty) <= MOST_DIRTY_HOURS else []
    purged = [(first, horizon)] if horizon > first else []
    return Reads(raw=_without((start, end), clean), hourly=_merged(purged + clean))


def _merged(spans: list[Span]) -> list[Span]:
    joined: list[Span] = []
    for low, high in spans:
        if joined and joined[-1][1] == low:
            joined[-1] = (joined[-1][0], high)
        else:
            joined.append((low, high))
    return joined


class _Params:
    """Numbered placeholders (``$n``) and their values, for SQL built from a varying number of spans."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def series_sql(dialect: Dialect, query: SeriesQuery, reads: Reads) -> tuple[str, list[object]]:
    """One partial aggregate per bucket and span, merged per bucket.

    A SELECT per span rather than ``OR``-ed ranges: SQLite reads an index by one range only.
    """
    assert query.agg is not None and query.interval is not None
    param = _Params()
    device = param(query.device_id)
    properties = ", ".join(param(number) for number in query.property_ids)

    def part(table: str, column: str, partials: str, span: Span) -> str:
        low, high = param(dialect.time(span[0])), param(dialect.time(span[1]))
        return (f"SELECT property_id, {dialect.bucket(column, query.interval)} AS bucket, {partials} FROM {table} "
                f"WHERE device_id = {device} AND property_id IN ({properties}) "
                f"AND {column} >= {low} AND {column} < {high} GROUP BY 1, 2")

    parts = [part("core_telemetry", "ts", PARTIALS, span) for span in reads.raw]
    parts += [part("core_telemetry_hourly", "hour", HOURLY_PARTIALS, span) for span in reads.hourly]
    sql = (f"SELECT property_id, bucket, {FINAL[query.agg]} AS value FROM ({' UNION ALL '.join(parts)}) AS parts "
           "GROUP BY property_id, bucket ORDER BY property_id, bucket")
    return dialect.sql(sql), param.values


async def _dirty_hours(client: BaseDBAsyncClient, dialect: Dialect, start: datetime, end: datetime) -> list[datetime]:
    found = await client.execute_query_dict(dialect.sql(
        "SELECT DISTINCT hour FROM core_telemetry_dirty_hour WHERE hour >= $1 AND hour < $2 ORDER BY hour LIMIT $3"
    ), [dialect.time(floor(start, HOUR)), dialect.time(end), MOST_DIRTY_HOURS + 1])
    return [dialect.moment(row["hour"]) for row in found]


async def downsample(store: TelemetryStore, query: SeriesQuery) -> list[SeriesPoint]:
    """One value per bucket, from the aggregates where they are complete and raw readings elsewhere.

    Buckets of whole hours read the aggregates; shorter ones read raw readings only,
    so they are refused (422) for a window that reaches before the raw horizon.
    """
    assert query.interval is not None
    dialect = Dialect.of(store)
    async with in_transaction() as client:
        if dialect.postgres:  # the marks and the readings from one snapshot
            await client.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        raw_from = await dialect.mark(client, RAW_FROM)
        if query.interval % HOUR:
            if raw_from is not None and query.start < raw_from:
                raise Invalid(_("Readings before %(date)s are kept as hourly aggregates only: choose an interval "
                                "of whole hours, such as 1h") % {"date": raw_from.isoformat()}, field="interval")
            return await store.series(query)
        reads = plan_reads(query.start, query.end, raw_from, await _dirty_hours(client, dialect, query.start, query.end))
        sql, values = series_sql(dialect, query, reads)
        found = await client.execute_query_dict(sql, values)
    return [SeriesPoint(row["property_id"], dialect.moment(row["bucket"]), row["value"]) for row in found]
