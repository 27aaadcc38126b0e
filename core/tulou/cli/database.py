"""``tulou migrate``."""

from __future__ import annotations

import asyncio

import click

from tulou.db.lifecycle import apply_migrations
from tulou.platform import build_platform


@click.command()
def migrate() -> None:
    """Apply the core's and every plugin's migrations, in dependency order (safe to repeat)."""
    platform = build_platform()
    platform.settings.data_dir.mkdir(parents=True, exist_ok=True)
    applied = asyncio.run(apply_migrations(platform.db_config))
    for name in applied:
        click.echo(f"applied {name}")
    click.echo(f"{len(applied)} migration(s) applied; database is up to date")
