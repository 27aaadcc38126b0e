"""Which process runs the jobs: only the one holding the leader lock.

On PostgreSQL the lock is a session advisory lock held on a dedicated connection
(released by the server if the process dies); on SQLite it is an exclusive file
lock beside the database file.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ADVISORY_LOCK_KEY = 0x7475_6C6F_755F_6A62  # "tulou_jb"
JOB_LOCK_FILE = "jobs.lock"


class Leadership(Protocol):
    async def try_acquire(self) -> bool: ...
    async def still_held(self) -> bool: ...
    async def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._dsn = urlunsplit(parts._replace(scheme="postgresql", query=""))
        self._connection: asyncpg.Connection | None = None

    async def try_acquire(self) -> bool:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn)
        got = await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_KEY)
        if not got:
            await self.release()
        return bool(got)

    async def still_held(self) -> bool:
        try:
            return self._connection is not None and await self._connection.fetchval("SELECT 1") == 1
        except (asyncpg.PostgresError, OSError):
            return False

    async def release(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class FileLeadership:
    def __init__(self, directory: Path) -> None:
        self._path = directory / JOB_LOCK_FILE
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def leadership_for(url: str, data_dir: Path) -> Leadership:
    if urlsplit(url).scheme in {"postgres", "postgresql"}:
        return PostgresLeadership(url)
    database = urlsplit(url).netloc + urlsplit(url).path
    directory = Path(database).parent if database and database != ":memory:" else data_dir
    return FileLeadership(directory)
