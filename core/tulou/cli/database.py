"""``tulou migrate``."""

from __future__ import annotations

import asyncio

import click

from tulou.cli.context import cli_platform
from tulou.db.lifecycle import apply_migrations
from tulou.i18n import gettext as _


@click.command()
def migrate() -> None:
    """Apply the core's and every plugin's migrations, in dependency order (safe to repeat)."""
    platform = cli_platform()
    platform.settings.data_dir.mkdir(parents=True, exist_ok=True)
    applied = asyncio.run(apply_migrations(platform.db_config))
    for name in applied:
        click.echo(_("applied %(name)s") % {"name": name})
    click.echo(_("%(count)d migration(s) applied; database is up to date") % {"count": len(applied)})
