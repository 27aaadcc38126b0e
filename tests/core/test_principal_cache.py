"""The principal cache: fast repeat requests, and every change of rights seen at once, in every process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, ON_POSTGRES
from tests.core.test_accounts import ME, account, bearer, tokens
from tulou.identity.accounts_models import Account, AccountStatus
from tulou.security.principal import Principal
from tulou.security.principal_cache import (
    PostgresSignal, PrincipalCache, ProcessSignal, StampFileSignal, principals_changed, touch_stamp,
)


def principal(expires_in: timedelta = timedelta(minutes=5)) -> Principal:
    return Principal.from_grants("account:1", "lin", (("350899100000", frozenset({"person:read"})),),
                                 datetime.now(timezone.utc) + expires_in)


def test_a_principal_is_kept_until_its_token_expires() -> None:
    cache = PrincipalCache(ProcessSignal())
    cache.put("a", principal(), cache.stamp())
    cache.put("b", principal(timedelta(seconds=-1)), cache.stamp())
    assert cache.get("a") is not None
    assert cache.get("b") is None


def test_principals_without_an_expiry_are_never_kept() -> None:
    cache = PrincipalCache(ProcessSignal())
    cache.put("a", Principal(id="cli", display_name="cli", permissions=frozenset({"*"})), cache.stamp())
    assert cache.get("a") is None


def test_a_lookup_that_raced_with_a_change_is_not_kept() -> None:
    cache = PrincipalCache(ProcessSignal())
    before = cache.stamp()
    cache.forget_all()  # a change committed while the lookup read the database
    cache.put("a", principal(), before)
    assert cache.get("a") is None


def test_another_process_replacing_the_stamp_file_empties_the_cache(tmp_path: Path) -> None:
    signal = StampFileSignal(tmp_path / "tulou.sqlite3.principals")
    cache = PrincipalCache(signal)
    cache.put("a", principal(), cache.stamp())
    assert cache.get("a") is not None
    touch_stamp(signal.path)
    assert cache.get("a") is None
    cache.put("a", principal(), cache.stamp())
    touch_stamp(signal.path)  # twice within one clock tick still differs: a new inode each time
    assert cache.get("a") is None


async def test_changes_announced_at_once_in_one_process_all_replace_the_stamp(tmp_path: Path) -> None:
    """Two requests of one process changing rights together (``principals_changed`` runs
    ``touch_stamp`` in worker threads) must not trip over each other's temporary file."""
    path = tmp_path / "tulou.sqlite3.principals"
    await asyncio.gather(*(asyncio.to_thread(touch_stamp, path) for _ in range(64)))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


async def test_without_its_listening_connection_the_cache_is_bypassed() -> None:
    signal = PostgresSignal("postgres://nobody@127.0.0.1:1/none")
    cache = PrincipalCache(signal)
    await signal.start()
    try:
        cache.put("a", principal(), cache.stamp())
        assert cache.stamp() is None
        assert cache.get("a") is None
    finally:
        await signal.stop()


async def test_a_change_announced_in_this_process_applies_to_the_next_request(client: Any) -> None:
    await account(client, "lin", "township_admin")
    access = (await tokens(client, "lin"))["access_token"]
    assert (await client.get(ME, headers=bearer(access))).status_code == 200
    await Account.filter(username="lin").update(status=AccountStatus.DISABLED)
    assert (await client.get(ME, headers=bearer(access))).status_code == 200, "served from the cache"
    await principals_changed()
    assert (await client.get(ME, headers=bearer(access))).status_code == 401


DISABLE_IN_ANOTHER_PROCESS = textwrap.dedent("""
    import asyncio, sys
    from tulou.db.config import tortoise_config
    from tulou.db.lifecycle import close_database, open_database
    from tulou.identity.accounts_models import Account, AccountStatus
    from tulou.security.principal_cache import principals_changed

    async def main(url, username):
        await open_database(tortoise_config(url, {}))
        try:
            await Account.filter(username=username).update(status=AccountStatus.DISABLED)
            await principals_changed()
        finally:
            await close_database()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_a_change_made_by_another_process_applies_at_once(client: Any, database_url: str) -> None:
    """SQLite hears it through the stamp file, PostgreSQL through LISTEN/NOTIFY."""
    await account(client, "lin", "township_admin")
    access = (await tokens(client, "lin"))["access_token"]
    assert (await client.get(ME, headers=bearer(access))).status_code == 200
    subprocess.run([sys.executable, "-c", DISABLE_IN_ANOTHER_PROCESS, database_url, "lin"], check=True, timeout=60)
    deadline = time.monotonic() + 5  # NOTIFY arrives asynchronously, within milliseconds
    while (answer := await client.get(ME, headers=bearer(access))).status_code == 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert answer.status_code == 401
    assert (await client.get(ME, headers=ADMIN)).status_code == 200


@pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass of make test")
async def test_the_listener_comes_back_after_its_connection_is_killed(database_url: str) -> None:
    signal = PostgresSignal(database_url)
    await signal.start()
    try:
        await wait_for(lambda: signal.stamp() is not None)
        before = signal.stamp()
        await pg_execute_in(database_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        await wait_for(lambda: signal.stamp() is None)  # nobody listens: the cache must not be trusted
        await wait_for(lambda: signal.stamp() is not None)
        assert signal.stamp() != before, "changes missed while deaf count as a change"
    finally:
        await signal.stop()


async def wait_for(condition: Any, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def pg_execute_in(database_url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
