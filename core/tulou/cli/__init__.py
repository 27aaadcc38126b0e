"""The ``tulou`` command: serve, migrate, load the demo, import areas and people, inspect plugins and settings.

Errors print one line and exit non-zero; nothing prints a traceback unless
``TULOU_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from tulou.cli.admin import admin
from tulou.cli.areas import areas, demo
from tulou.cli.audit import audit
from tulou.cli.config import config
from tulou.cli.database import migrate
from tulou.cli.exchange import exchange
from tulou.cli.develop import makemigrations
from tulou.cli.identity import identity
from tulou.cli.people import people
from tulou.cli.plugins import plugins
from tulou.cli.serve import serve
from tulou.errors import Problem
from tulou.i18n import gettext as _
from tulou.settings import SettingsError


class TulouGroup(click.Group):
    """Turns known failures into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (SettingsError, Problem) as error:
            _fail(str(error))
        except Exception as error:  # noqa: BLE001 - the CLI's last line of defence
            if os.environ.get("TULOU_DEBUG") == "1":
                raise
            _fail(f"{type(error).__name__}: {error}")


def _fail(message: str) -> None:
    click.echo(_("Error: %(message)s") % {"message": message}, err=True)
    sys.exit(1)


@click.group(cls=TulouGroup)
@click.version_option(package_name="tulou")
def cli() -> None:
    """Tulou: the shared core of a county's smart-village systems."""


for command in (serve, migrate, makemigrations, demo, areas, audit, plugins, config, identity, admin, people, exchange):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="tulou")
