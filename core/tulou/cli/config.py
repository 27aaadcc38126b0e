"""``tulou config show``."""

from __future__ import annotations

import json

import click

from tulou.cli.context import cli_platform
from tulou.settings import masked_view


@click.group()
def config() -> None:
    """Settings."""


@config.command("show")
def show() -> None:
    """Print the effective settings, secrets masked."""
    click.echo(json.dumps(masked_view(cli_platform().settings), ensure_ascii=False, indent=2))
