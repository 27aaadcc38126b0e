"""Helpers shared by commands: the platform with an open database, and reporting bad input rows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import click

from tulou.db.lifecycle import close_database, open_database
from tulou.i18n import current_locale, install
from tulou.i18n import gettext as _
from tulou.platform import Platform, build_platform
from tulou.security.principal import ALL_PERMISSIONS, Principal

T = TypeVar("T")

#: Who acts when a county IT operator runs a command: everywhere, every permission, audited as "cli".
COMMAND_LINE = Principal(id="cli", display_name="tulou command line", permissions=frozenset({ALL_PERMISSIONS}))


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


def echo_bad_rows(errors: Iterable[object]) -> None:
    """Each bad row of an imported file on its own line of stderr (``line 4: ...``)."""
    for error in errors:
        click.echo(str(error), err=True)


def nothing_written(bad_rows: int) -> click.ClickException:
    """The failure of an all-or-nothing import: exit 1, after the rows were listed."""
    return click.ClickException(_("%(count)d bad row(s); nothing was written") % {"count": bad_rows})
