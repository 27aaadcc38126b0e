"""``tulou makemigrations``: for core and plugin developers."""

from __future__ import annotations

import asyncio
from typing import Any

import click
from tortoise.cli import cli as tortoise_cli

from tulou.db.config import tortoise_config
from tulou.platform import build_platform

#: Read by Tortoise's migration writer, which only takes a config by module path.
TORTOISE_ORM: dict[str, Any] = {}


@click.command()
@click.argument("apps", nargs=-1)
@click.option("--name", default=None, help="a name for the new migration")
def makemigrations(apps: tuple[str, ...], name: str | None) -> None:
    """Write migrations for changed models of the core (``tulou``) or the named plugins.

    The core's app is always loaded (plugin models point at ``tulou.Area``); with no
    model changes it gets no new migration.
    """
    global TORTOISE_ORM
    TORTOISE_ORM = tortoise_config("sqlite://:memory:", build_platform().registry.models)
    context = tortoise_cli.CLIContext(config=f"{__name__}.TORTOISE_ORM", config_file=None)
    labels = ("tulou", *(app for app in apps if app != "tulou")) if apps else ()
    asyncio.run(tortoise_cli.makemigrations(context, labels, False, name))
