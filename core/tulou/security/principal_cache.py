"""Remembering whom a bearer token belongs to, and forgetting it everywhere the moment rights change.

Resolving a token costs the database two queries (the token with its account, then
the account's bindings), which made a guarded route a tenth as fast as a public one.
Each process therefore keeps the principal of every token it has seen, until the
token expires or :data:`MAX_AGE` passes, whichever is first.

A revocation must still work at once, in every process: logout, a password change,
a removed binding, a narrowed role, a disabled account or client. Every such change
calls :func:`principals_changed` after its transaction commits. That empties the
caches of this process and tells the others through a *change signal*:

- on SQLite (one machine), by replacing a stamp file next to the database, which
  every process checks with one ``stat`` per request;
- on PostgreSQL (possibly several machines), by ``NOTIFY`` on a channel every
  process ``LISTEN``\\ s to; while that listening connection is down, the cache is
  bypassed rather than trusted.

A lookup that raced with a change is not stored: the signal's stamp is taken before
the database is read and compared again before storing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
import uuid
import weakref
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tortoise import connections

from tulou.security.principal import Principal

log = logging.getLogger(__name__)

CHANNEL = "tulou_principals"
#: Seconds a principal is trusted at most, a backstop should a change bypass
#: :func:`principals_changed` (someone editing the tables by hand).
MAX_AGE = 60.0
MAX_ENTRIES = 50_000
RECONNECT_DELAY = 1.0
PING_INTERVAL = 10.0
PING_TIMEOUT = 5.0

T = TypeVar("T")

#: Every cache alive in this process (several apps run in one process in tests).
_caches: weakref.WeakSet[CredentialCache[Any]] = weakref.WeakSet()


class ChangeSignal(Protocol):
    """How a process learns that another one changed someone's rights."""

    def stamp(self) -> object | None:
        """A value that differs after every change; ``None`` when changes cannot be seen now."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ProcessSignal:
    """No other process to hear from: an in-memory database, or a test."""

    def stamp(self) -> object | None:
        return 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def stamp_path(database_file: str) -> Path:
    return Path(f"{database_file}.principals")


class StampFileSignal:
    """A file next to the SQLite database, replaced on every change (a new inode each time)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stamp(self) -> object | None:
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return "absent"
        except OSError:
            return None
        return (found.st_ino, found.st_mtime_ns, found.st_size)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def touch_stamp(path: Path) -> None:
    """Replace the stamp file atomically, so a reader never sees it missing or half-written.

    The temporary file is the call's own: threads of one process may touch the stamp at once.
    """
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(f"{time.time_ns()}\n")
    os.replace(temporary, path)


class PostgresSignal:
    """``LISTEN`` on :data:`CHANNEL` through a connection of its own, reconnecting when it drops."""

    def __init__(self, url: str) -> None:
        self._dsn = urlunsplit(urlsplit(url)._replace(scheme="postgresql", query=""))
        self._changes = 0
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    def stamp(self) -> object | None:
        return self._changes if self._listening else None

    def _heard(self, *_args: object) -> None:
        self._changes += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="tulou-principal-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: bypass the cache, then reconnect
                log.warning("principal change listener down, cache bypassed: %s", error)
            finally:
                self._listening = False
            await asyncio.sleep(RECONNECT_DELAY)

    async def _listen_once(self) -> None:
        """Listen until the connection ends or stops answering its liveness check."""
        import asyncpg

        connection = await asyncpg.connect(self._dsn, timeout=PING_TIMEOUT)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._heard)
            self._changes += 1  # anything may have changed while nobody listened
            self._listening = True
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PING_INTERVAL)
                if not lost.is_set():  # a connection cut without a goodbye is only found by asking
                    await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT)
            log.warning("principal change listener lost its connection, cache bypassed")
        finally:
            self._listening = False
            with contextlib.suppress(Exception):
                await connection.close(timeout=1)


def signal_for(database_url: str) -> ChangeSignal:
    parts = urlsplit(database_url)
    if parts.scheme in {"postgres", "postgresql"}:
        return PostgresSignal(database_url)
    database_file = (parts.netloc + parts.path) if parts.scheme == "sqlite" else ""
    if not database_file or database_file == ":memory:":
        return ProcessSignal()
    return StampFileSignal(stamp_path(database_file))


class CredentialCache(Generic[T]):
    """What each token stands for, trusted only while the change signal stays as it was.

    A stamp is the signal's value plus a count of the changes this process made
    itself, so a lookup racing with a local change is caught even without a signal.
    Every cache in the process is emptied by :func:`principals_changed`.
    """

    def __init__(self, signal: ChangeSignal) -> None:
        self.signal = signal
        self._entries: dict[str, tuple[T, float]] = {}
        self._local_changes = 0
        self._seen: object | None = self.stamp()
        _caches.add(self)

    def stamp(self) -> object | None:
        """Take before reading the database; hand back to :meth:`keep`."""
        heard = self.signal.stamp()
        return None if heard is None else (self._local_changes, heard)

    def get(self, token: str) -> T | None:
        current = self.stamp()
        if current is None:
            return None
        if current != self._seen:
            self._entries.clear()
            self._seen = current
        found = self._entries.get(token)
        if found is None:
            return None
        value, valid_until = found
        if valid_until <= time.time():
            del self._entries[token]
            return None
        return value

    def keep(self, token: str, value: T, stamp_before: object | None, valid_until: float = math.inf) -> None:
        """Keep ``value`` until ``valid_until`` (at most :data:`MAX_AGE` from now), unless a change
        may have happened since ``stamp_before`` was taken."""
        if stamp_before is None or stamp_before != self.stamp():
            return
        if stamp_before != self._seen:
            self._entries.clear()
            self._seen = stamp_before
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token] = (value, min(valid_until, time.time() + MAX_AGE))

    def forget_all(self) -> None:
        self._local_changes += 1
        self._entries.clear()


class PrincipalCache(CredentialCache[Principal]):
    """Principals by bearer token; only those whose credential expires are kept, until it does."""

    def put(self, token: str, principal: Principal, stamp_before: object | None) -> None:
        if principal.expires_at is not None:
            self.keep(token, principal, stamp_before, principal.expires_at.timestamp())


async def principals_changed() -> None:
    """Make every process forget every cached principal. Call after the change has committed.

    Called inside a transaction, the notice could reach another process before the
    change is visible there, and that process would cache the old rights again.
    """
    for cache in list(_caches):
        cache.forget_all()
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_notify($1, '')", [CHANNEL])
        return
    database_file = getattr(connection, "filename", "")
    if database_file and database_file != ":memory:":
        await asyncio.to_thread(touch_stamp, stamp_path(database_file))
