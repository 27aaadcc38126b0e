"""``tulou serve`` and ``tulou admin-token``."""

from __future__ import annotations

from pathlib import Path

import click
from granian.constants import Interfaces
from granian.server import Server

from tulou.platform import build_platform
from tulou.settings import new_admin_token


@click.command()
@click.option("--host", default=None, help="address to bind (default TULOU_HOST)")
@click.option("--port", type=int, default=None, help="port (default TULOU_PORT, 8000)")
@click.option("--workers", type=int, default=None, help="worker processes (default TULOU_WEB__WORKERS)")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API with granian (chosen over uvicorn: about twice the requests/s here)."""
    settings = build_platform().settings  # a bad setting stops here, in one line
    host = host or settings.host
    port = port or settings.port
    click.echo(f"Tulou serving on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    Server(
        "tulou.web.app:app_from_environment",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers or settings.web.workers,
        factory=True,
        log_access=False,
    ).serve()


@click.command("admin-token")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=Path(".env"))
def admin_token(env_file: Path) -> None:
    """Make sure a bootstrap admin token exists; a new one is saved to .env and printed once."""
    if build_platform().settings.admin_token is not None:
        click.echo("An admin token is already configured (TULOU_ADMIN_TOKEN).")
        return
    token = new_admin_token()
    existing = env_file.read_text() if env_file.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    env_file.write_text(f"{existing}{separator}TULOU_ADMIN_TOKEN={token}\n")
    env_file.chmod(0o600)
    click.echo(f"Bootstrap admin token (shown once, saved in {env_file}):\n  {token}")
