"""Helpers shared by commands that need the platform and an open database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tulou.db.lifecycle import close_database, open_database
from tulou.i18n import current_locale, install
from tulou.platform import Platform, build_platform

T = TypeVar("T")


def cli_platform() -> Platform:
    """The platform for a command, with messages in the configured default locale."""
    platform = build_platform()
    install(platform.catalogs)
    current_locale.set(platform.settings.default_locale)
    return platform


def run_with_platform(work: Callable[[Platform], Awaitable[T]]) -> T:
    """Run ``work`` with an open database, from a synchronous click command.

    The platform is built here, outside the event loop, so the locale it sets also
    holds for the messages the command prints after the loop ends.
    """
    platform = cli_platform()
    platform.settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def runner() -> T:
        await open_database(platform.db_config)
        try:
            return await work(platform)
        finally:
            await close_database()

    return asyncio.run(runner())
