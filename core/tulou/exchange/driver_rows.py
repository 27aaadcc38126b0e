"""Rows the bulk paths write through the driver: one statement per chunk, no ORM object per row.

The ORM is for CRUD. A chunk of records, their changes and their outbox deliveries
goes in with ``executemany`` on the transaction's own connection instead: building
a Tortoise object per row cost more than validating, encoding and inserting it.
Statements are written once per dialect, in its placeholder style.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient


def marks(connection: BaseDBAsyncClient, count: int) -> list[str]:
    """``count`` placeholders in the driver's style: ``$1, $2...`` for asyncpg, ``?`` for SQLite."""
    if connection.capabilities.dialect == "postgres":
        return [f"${n}" for n in range(1, count + 1)]
    return ["?"] * count


def insert_statement(connection: BaseDBAsyncClient, table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(marks(connection, len(columns)))})"


async def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in the order of ``columns``) on the current transaction's connection."""
    if rows:
        connection = connections.get("default")
        await connection.execute_many(insert_statement(connection, table, columns), list(rows))
