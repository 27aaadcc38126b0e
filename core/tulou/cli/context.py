"""Helpers shared by commands that need the platform and an open database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from tulou.db.lifecycle import close_database, open_database
from tulou.i18n import install
from tulou.platform import Platform, build_platform

T = TypeVar("T")


@contextlib.asynccontextmanager
async def open_platform() -> AsyncIterator[Platform]:
    platform = build_platform()
    install(platform.catalogs)
    platform.settings.data_dir.mkdir(parents=True, exist_ok=True)
    await open_database(platform.db_config)
    try:
        yield platform
    finally:
        await close_database()


def run_with_platform(work: Callable[[Platform], Awaitable[T]]) -> T:
    """Run ``work`` with an open database, from a synchronous click command."""

    async def runner() -> T:
        async with open_platform() as platform:
            return await work(platform)

    return asyncio.run(runner())
