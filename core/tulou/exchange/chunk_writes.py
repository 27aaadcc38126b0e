"""Writing one chunk of an import's checked rows: new keys inserted, existing ones updated, area moves refused.

A row whose id names a live record in another area is refused (a record's area
cannot change); a tombstone comes back to life in the row's area, reported as a
create. Each database gets the statement shape it plans well:

- SQLite looks the chunk's keys up with one ``IN (...)`` query on the unique
  (dataset, major, key) index, then inserts and updates with ``executemany``.
- PostgreSQL writes the chunk with one ``INSERT ... ON CONFLICT DO UPDATE`` over
  arrays. A lookup first would be at the planner's mercy: inside an import's
  transaction it has no statistics for the rows just written, took the (dataset,
  major, area) index for ``key = ANY($1)`` and compared every row of the dataset
  with every key of the chunk, so a 100k-row import crawled. The conflict check
  always goes through the unique index. ``RETURNING`` reads the old row's tombstone
  flag with a subquery, which sees the table as it was before the statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from tulou.exchange.driver_rows import insert_rows, marks
from tulou.exchange.feed import Written
from tulou.exchange.models import ChangeOp

RECORD_COLUMNS = ("dataset_id", "key", "major", "minor", "area_id", "data", "version", "deleted", "created_by",
                  "updated_by", "created_at", "updated_at")
_UPDATED_COLUMNS = ("area_id", "data", "minor", "version", "deleted", "updated_by", "updated_at")


class Row(Protocol):
    key: str
    area: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Target:
    """Where a chunk goes: the dataset's major version, the minor its rows were checked against, who writes, when."""

    dataset_id: str
    major: int
    minor: int
    actor: str
    at: datetime


@dataclass
class ChunkOutcome:
    written: list[Written] = field(default_factory=list)
    refused: list[Any] = field(default_factory=list)  # rows that would move a live record to another area


async def write_chunk(target: Target, rows: Sequence[Row]) -> ChunkOutcome:
    """Write ``rows`` (distinct keys) on the current transaction's connection."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        return await _upsert_postgres(connection, target, rows)
    return await _write_sqlite(connection, target, rows)


_UPSERT_POSTGRES = """
WITH written AS (
    INSERT INTO core_record AS r (dataset_id, key, major, minor, area_id, data, version, deleted,
                                  created_by, updated_by, created_at, updated_at)
    SELECT $1, incoming.key, $2, $3, incoming.area_id, incoming.data::jsonb, 1, false, $4, $4, $5, $5
    FROM unnest($6::varchar[], $7::varchar[], $8::text[]) AS incoming(key, area_id, data)
    ON CONFLICT (dataset_id, major, key) DO UPDATE
        SET area_id = excluded.area_id, data = excluded.data, minor = excluded.minor, version = r.version + 1,
            deleted = false, updated_by = excluded.updated_by, updated_at = excluded.updated_at
        WHERE r.deleted OR r.area_id = excluded.area_id
    RETURNING r.key, r.version, (SELECT before.deleted FROM core_record AS before WHERE before.id = r.id) AS was_deleted
)
SELECT key, version, was_deleted FROM written
"""


async def _upsert_postgres(connection: BaseDBAsyncClient, target: Target, rows: Sequence[Row]) -> ChunkOutcome:
    encode = msgspec.json.encode
    _count, found = await connection.execute_query(_UPSERT_POSTGRES, [
        target.dataset_id, target.major, target.minor, target.actor, target.at,
        [row.key for row in rows], [row.area for row in rows], [encode(row.data).decode() for row in rows],
    ])
    outcome, by_key = ChunkOutcome(), {row.key: row for row in rows}
    for written in found:
        row, was_deleted = by_key.pop(written["key"]), written["was_deleted"]
        created = was_deleted is None or was_deleted
        outcome.written.append(Written(ChangeOp.CREATE if created else ChangeOp.UPDATE, row.key, written["version"],
                                       target.major, target.minor, row.area, row.data))
    outcome.refused = list(by_key.values())
    return outcome


async def _existing_sqlite(connection: BaseDBAsyncClient, target: Target,
                           keys: list[str]) -> dict[str, tuple[int, int, bool, str]]:
    """The records ``keys`` already name: id, version, tombstone, area."""
    sql = ("SELECT key, id, version, deleted, area_id FROM core_record WHERE dataset_id = ? AND major = ? "
           f"AND key IN ({', '.join('?' * len(keys))})")
    _count, found = await connection.execute_query(sql, [target.dataset_id, target.major, *keys])
    return {row["key"]: (row["id"], row["version"], bool(row["deleted"]), row["area_id"]) for row in found}


async def _write_sqlite(connection: BaseDBAsyncClient, target: Target, rows: Sequence[Row]) -> ChunkOutcome:
    existing = await _existing_sqlite(connection, target, [row.key for row in rows])
    encode, at, actor = msgspec.json.encode, target.at, target.actor
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    outcome = ChunkOutcome()
    for row in rows:
        found = existing.get(row.key)
        if found is not None and not found[2] and found[3] != row.area:
            outcome.refused.append(row)
            continue
        data = encode(row.data).decode()
        if found is None:
            inserts.append((target.dataset_id, row.key, target.major, target.minor, row.area, data, 1, False,
                            actor, actor, at, at))
            op, version = ChangeOp.CREATE, 1
        else:
            version = found[1] + 1
            updates.append((row.area, data, target.minor, version, False, actor, at, found[0]))
            op = ChangeOp.CREATE if found[2] else ChangeOp.UPDATE
        outcome.written.append(Written(op, row.key, version, target.major, target.minor, row.area, row.data))
    await insert_rows("core_record", RECORD_COLUMNS, inserts)
    if updates:
        places = marks(connection, len(_UPDATED_COLUMNS) + 1)
        sets = ", ".join(f"{name} = {mark}" for name, mark in zip(_UPDATED_COLUMNS, places))
        await connection.execute_many(f"UPDATE core_record SET {sets} WHERE id = {places[-1]}", updates)
    return outcome
