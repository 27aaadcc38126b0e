"""``tulou plugins list``."""

from __future__ import annotations

import json

import click

from tulou.cli.context import cli_platform
from tulou.plugins.routes import describe_plugin


@click.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def list_plugins(as_json: bool) -> None:
    """Every plugin found, with its status and, if it failed, why."""
    platform = cli_platform()
    rows = [describe_plugin(platform, record) for record in sorted(platform.plugins.records.values(), key=lambda r: r.name)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        line = f"{row['name']:<16} {row['status']:<8} {row['version'] or '-':<10} {row['activation']:<10}"
        click.echo(line + (f" {row['reason']}" if row["reason"] else f" {row['title']}"))
