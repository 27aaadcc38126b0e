"""Hours and days of telemetry time, the upkeep marks, and the little SQL that differs between the two databases.

Buckets are aligned on the Unix epoch, as the series query aligns them: an hour
starts on the hour and a day at 00:00 UTC. The aggregates, retention and partition
modules write one SQL text with ``$n`` placeholders; SQLite gets them as ``?n``, and
keeps time as integer microseconds since the epoch where PostgreSQL has timestamptz.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from tulou.devices.telemetry_store import EPOCH, MICROSECOND, TelemetryStore

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
PLACEHOLDER = re.compile(r"\$(\d+)")

#: Upkeep marks: the start of the raw readings kept, and of the hourly aggregates kept.
RAW_FROM = "raw_from"
AGGREGATES_FROM = "aggregates_from"


def floor(moment: datetime, width: timedelta) -> datetime:
    """The start of the epoch-aligned bucket of ``width`` holding ``moment``."""
    return EPOCH + ((moment - EPOCH) // width) * width


def ceil(moment: datetime, width: timedelta) -> datetime:
    start = floor(moment, width)
    return start if start == moment else start + width


def runs(hours: list[datetime], longest: int) -> Iterator[tuple[datetime, datetime]]:
    """Sorted hours as ``[start, end)`` runs of consecutive hours, none longer than ``longest`` hours."""
    start = previous = None
    for hour in hours:
        if start is not None and previous is not None and hour == previous + HOUR and hour - start < longest * HOUR:
            previous = hour
            continue
        if start is not None and previous is not None:
            yield start, previous + HOUR
        start = previous = hour
    if start is not None and previous is not None:
        yield start, previous + HOUR


@dataclass(frozen=True)
class Dialect:
    """How one database writes placeholders, time and time buckets."""

    store: TelemetryStore
    postgres: bool

    @classmethod
    def of(cls, store: TelemetryStore) -> Dialect:
        return cls(store, store.dialect == "postgres")

    def sql(self, text: str) -> str:
        return text if self.postgres else PLACEHOLDER.sub(r"?\1", text)

    def time(self, moment: datetime) -> Any:
        return self.store.encode_time(moment)

    def moment(self, stored: Any) -> datetime:
        return self.store.decode_time(stored)

    def bucket(self, column: str, width: timedelta) -> str:
        """SQL for the start of ``column``'s epoch-aligned bucket of ``width``."""
        if self.postgres:
            return f"date_bin('{int(width.total_seconds())} seconds', {column}, '1970-01-01 00:00:00+00')"
        micro = width // MICROSECOND
        return f"(({column} / {micro}) * {micro})"

    async def mark(self, client: BaseDBAsyncClient, name: str) -> datetime | None:
        """An upkeep mark, or ``None`` before the upkeep job first set it."""
        rows = await client.execute_query_dict(self.sql("SELECT at FROM core_telemetry_upkeep WHERE name = $1"), [name])
        return self.moment(rows[0]["at"]) if rows else None

    async def set_mark(self, client: BaseDBAsyncClient, name: str, moment: datetime) -> None:
        await client.execute_query(self.sql(
            "INSERT INTO core_telemetry_upkeep (name, at) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET at = excluded.at"
        ), [name, self.time(moment)])
