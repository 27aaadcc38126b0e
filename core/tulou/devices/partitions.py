"""Day partitions of the raw telemetry table on PostgreSQL: made ahead of the readings, dropped by retention.

``core_telemetry`` is partitioned by range of ``ts``, one partition per UTC day
(``core_telemetry_p20250601``), with a default partition for readings of a day that has
none yet, so a write never fails for want of a partition. The upkeep job gives a
partition to today and the next :data:`AHEAD_DAYS` days, and to every kept day that has
readings in the default partition, moving them over. A partition is made as a plain table
and attached, which does not block readers and writers of the others; dropping one takes
the whole table's lock for a moment, waiting at most :data:`LOCK_TIMEOUT`.
"""

from __future__ import annotations

import re
from datetime import datetime

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from tulou.devices.hours import DAY, floor

PARTITION = re.compile(r"^core_telemetry_p(\d{8})$")
DEFAULT_PARTITION = "core_telemetry_default"
AHEAD_DAYS = 2
LOCK_TIMEOUT = "2s"


def partition_name(day: datetime) -> str:
    return f"core_telemetry_p{day:%Y%m%d}"


def _literal(moment: datetime) -> str:
    return f"'{moment.isoformat()}'"


async def partition_days(client: BaseDBAsyncClient) -> list[datetime]:
    """The days that have a partition, oldest first."""
    rows = await client.execute_query_dict(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'core_telemetry'::regclass"
    )
    names = (PARTITION.match(row["name"]) for row in rows)
    return sorted(datetime.strptime(f"{m.group(1)}+0000", "%Y%m%d%z") for m in names if m)


async def _default_days(client: BaseDBAsyncClient, since: datetime, until: datetime) -> list[datetime]:
    rows = await client.execute_query_dict(
        f"SELECT DISTINCT date_bin('1 day', ts, '1970-01-01 00:00:00+00') AS day FROM {DEFAULT_PARTITION} "
        "WHERE ts >= $1 AND ts < $2", [since, until]
    )
    return [row["day"] for row in rows]


async def add_partition(day: datetime) -> None:
    """Attach a partition for ``day``, with the day's readings moved out of the default partition."""
    name, start, end = partition_name(day), _literal(day), _literal(day + DAY)
    async with in_transaction() as client:
        await client.execute_script(
            f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; "
            f"CREATE TABLE {name} (LIKE core_telemetry INCLUDING DEFAULTS); "
            # The check lets the attach skip scanning the moved rows (PostgreSQL's advice), then goes.
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_day CHECK (ts >= {start} AND ts < {end})"
        )
        await client.execute_query(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE ts >= $1 AND ts < $2 RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved", [day, day + DAY]
        )
        await client.execute_script(
            f"ALTER TABLE core_telemetry ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end}); "
            f"ALTER TABLE {name} DROP CONSTRAINT {name}_day"
        )


async def ensure_partitions(now: datetime, keep_from: datetime) -> list[datetime]:
    """Partitions for today, the days ahead, and kept days whose readings wait in the default; the days added."""
    client = connections.get("default")
    today = floor(now, DAY)
    last = today + AHEAD_DAYS * DAY
    wanted = {today + n * DAY for n in range(AHEAD_DAYS + 1)}
    wanted |= set(await _default_days(client, keep_from, last + DAY))
    added = sorted(wanted - set(await partition_days(client)))
    for day in added:
        await add_partition(day)
    return added


async def oldest_day(client: BaseDBAsyncClient, since: datetime | None) -> datetime | None:
    """The first day, from ``since`` on, with a partition or with readings in the default partition."""
    days = [day for day in await partition_days(client) if since is None or day >= since]
    rows = await client.execute_query_dict(
        f"SELECT min(ts) AS first FROM {DEFAULT_PARTITION} WHERE $1::timestamptz IS NULL OR ts >= $1", [since]
    )
    if rows and rows[0]["first"] is not None:
        days.append(floor(rows[0]["first"], DAY))
    return min(days, default=None)


async def drop_day(client: BaseDBAsyncClient, day: datetime) -> None:
    """Drop ``day``'s partition, if it has one, and delete its readings from the default partition.

    Run inside the caller's transaction: the whole table is locked first, so no write
    of that day is half-way through when its partition goes.
    """
    if day in await partition_days(client):
        await client.execute_script(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; "
                                    "LOCK TABLE core_telemetry IN ACCESS EXCLUSIVE MODE; "
                                    f"DROP TABLE {partition_name(day)}")
    await client.execute_query(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts >= $1 AND ts < $2", [day, day + DAY])
