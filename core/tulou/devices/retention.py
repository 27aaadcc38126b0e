"""Telemetry upkeep: the hourly rollup, day partitions, and retention of raw readings and of aggregates.

One scheduled job (``tulou.telemetry_upkeep``, every five minutes) does it all, in this
order, so no step races another: roll up dirty hours; on PostgreSQL, make day partitions;
purge raw readings older than ``raw_retention_days``; purge aggregates older than
``aggregate_retention_days``. Time comes from :mod:`tulou.devices.clock`.

Raw readings go one span at a time, each in its own transaction that also moves the raw
horizon (``raw_from``) to the span's end: a day on PostgreSQL (its partition dropped), an
hour on SQLite (its rows deleted). So the horizon is exact: readings before it are gone,
except late ones waiting to be folded into the aggregates, and readings after it are all
there. The horizon moves by whole days and never past an hour that is not rolled up yet,
and a span that became dirty meanwhile is left for the next run: no reading leaves the raw
table before it is in the aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from tulou.devices import clock, partitions
from tulou.devices.aggregates import roll_up
from tulou.devices.hours import AGGREGATES_FROM, DAY, HOUR, RAW_FROM, Dialect, floor
from tulou.devices.telemetry_store import TelemetryStore, store_for
from tulou.settings import DeviceSettings

if TYPE_CHECKING:
    from tulou.platform import Platform

#: Transactions of purging per run, for raw readings and for aggregates each; the next run goes on.
SPANS_PER_RUN = 500

Span = tuple[datetime, datetime]


class _Dirtied(Exception):
    """A reading arrived in the span being purged: roll the purge back and leave the span for later."""


@dataclass(frozen=True)
class Upkeep:
    """What one run of the job did."""

    hours_rolled_up: int
    partitions_added: int
    raw_spans_purged: int
    aggregate_days_purged: int


async def _first(client: BaseDBAsyncClient, dialect: Dialect, table: str, column: str,
                 since: datetime | None = None) -> datetime | None:
    """The least time in ``table.column``, from ``since`` on if given."""
    where, values = (f" WHERE {column} >= $1", [dialect.time(since)]) if since is not None else ("", [])
    rows = await client.execute_query_dict(dialect.sql(f"SELECT min({column}) AS first FROM {table}{where}"), values)
    first = rows[0]["first"] if rows else None
    return dialect.moment(first) if first is not None else None


async def raw_cutoff(dialect: Dialect, now: datetime, days: int) -> datetime:
    """Where the raw horizon may move to: ``days`` before ``now`` on a day boundary, short of any dirty hour."""
    client = connections.get("default")
    cutoff = floor(now - days * DAY, DAY)
    dirty = await _first(client, dialect, "core_telemetry_dirty_hour", "hour", await dialect.mark(client, RAW_FROM))
    return min(cutoff, floor(dirty, DAY)) if dirty is not None else cutoff


async def _next_span(client: BaseDBAsyncClient, dialect: Dialect, since: datetime | None) -> Span | None:
    """The first span, from ``since`` on, that holds raw readings: a day on PostgreSQL, an hour on SQLite."""
    if dialect.postgres:
        day = await partitions.oldest_day(client, since)
        return (day, day + DAY) if day is not None else None
    first = await _first(client, dialect, "core_telemetry", "ts", since)
    if first is None:
        return None
    hour = floor(first, HOUR)
    return hour, hour + HOUR


async def _purge_span(dialect: Dialect, span: Span) -> None:
    """Delete one span's raw readings and move the horizon past it, or raise :class:`_Dirtied` having done neither."""
    start, end = span
    async with in_transaction() as client:
        if dialect.postgres:
            await partitions.drop_day(client, start)
        else:
            await client.execute_query(dialect.sql("DELETE FROM core_telemetry WHERE ts >= $1 AND ts < $2"),
                                       [dialect.time(start), dialect.time(end)])
        # Checked after the delete: a reading committed before it has its hour marked by now.
        dirty = await _first(client, dialect, "core_telemetry_dirty_hour", "hour", start)
        if dirty is not None and dirty < end:
            raise _Dirtied
        await dialect.set_mark(client, RAW_FROM, end)


async def purge_raw(dialect: Dialect, cutoff: datetime) -> int:
    """Move the raw horizon up to ``cutoff``, span by span; how many spans held readings."""
    client = connections.get("default")
    raw_from = await dialect.mark(client, RAW_FROM)
    if raw_from is not None and raw_from >= cutoff:
        return 0
    for purged in range(SPANS_PER_RUN):
        span = await _next_span(client, dialect, raw_from)
        if span is None or span[1] > cutoff:
            await dialect.set_mark(client, RAW_FROM, cutoff)
            return purged
        try:
            await _purge_span(dialect, span)
        except _Dirtied:
            return purged
        raw_from = span[1]
    return SPANS_PER_RUN


async def purge_aggregates(dialect: Dialect, cutoff: datetime) -> int:
    """Delete aggregates of hours before ``cutoff``, a day per transaction; how many days held some."""
    client = connections.get("default")
    for purged in range(SPANS_PER_RUN):
        first = await _first(client, dialect, "core_telemetry_hourly", "hour")
        if first is None or first >= cutoff:
            await dialect.set_mark(client, AGGREGATES_FROM, cutoff)
            return purged
        day = floor(first, DAY)
        await client.execute_query(dialect.sql("DELETE FROM core_telemetry_hourly WHERE hour >= $1 AND hour < $2"),
                                   [dialect.time(day), dialect.time(min(day + DAY, cutoff))])
    return SPANS_PER_RUN


async def upkeep(store: TelemetryStore, settings: DeviceSettings, now: datetime) -> Upkeep:
    """One run: roll up, make partitions, purge raw readings, purge aggregates."""
    dialect = Dialect.of(store)
    rolled = await roll_up(store, now)
    cutoff = await raw_cutoff(dialect, now, settings.raw_retention_days)
    added = await partitions.ensure_partitions(now, cutoff) if dialect.postgres else []
    spans = await purge_raw(dialect, cutoff)
    days = await purge_aggregates(dialect, floor(now - settings.aggregate_retention_days * DAY, DAY))
    return Upkeep(rolled, len(added), spans, days)


async def keep_telemetry(platform: Platform) -> Upkeep:
    """The scheduled job."""
    return await upkeep(store_for(platform.settings.is_postgres), platform.settings.devices, clock.now())
