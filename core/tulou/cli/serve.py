"""``tulou serve`` and ``tulou admin-token``."""

from __future__ import annotations

from pathlib import Path

import click
from granian.constants import Interfaces
from granian.server import Server

from tulou.logs import logging_config
from tulou.cli.context import cli_platform
from tulou.i18n import gettext as _
from tulou.settings import new_admin_token


@click.command()
@click.option("--host", default=None, help="address to bind (default TULOU_HOST)")
@click.option("--port", type=int, default=None, help="port (default TULOU_PORT, 8000)")
@click.option("--workers", type=int, default=None, help="worker processes (default TULOU_WEB__WORKERS)")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API with granian (chosen over uvicorn: about twice the requests/s here)."""
    settings = cli_platform().settings  # a bad setting stops here, in one line
    host = host or settings.host
    port = port or settings.port
    click.echo(_("Tulou serving on %(url)s (API docs: %(url)s/schema)") % {"url": f"http://{host}:{port}"})
    Server(
        "tulou.web.app:app_from_environment",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers or settings.web.workers,
        factory=True,
        log_access=False,
        log_dictconfig=logging_config(settings.log_level),
    ).serve()


def _has_token(env_file: Path) -> bool:
    if not env_file.is_file():
        return False
    return any(line.strip().startswith("TULOU_ADMIN_TOKEN=") for line in env_file.read_text().splitlines())


@click.command("admin-token")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=Path(".env"))
def admin_token(env_file: Path) -> None:
    """Make sure a bootstrap admin token exists; a new one is saved to .env and printed once."""
    if cli_platform().settings.admin_token is not None or _has_token(env_file):
        click.echo(_("An admin token is already configured (TULOU_ADMIN_TOKEN)."))
        return
    token = new_admin_token()
    existing = env_file.read_text() if env_file.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    env_file.write_text(f"{existing}{separator}TULOU_ADMIN_TOKEN={token}\n")
    env_file.chmod(0o600)
    click.echo(_("Bootstrap admin token (shown once, saved in %(file)s):") % {"file": env_file})
    click.echo(f"  {token}")
