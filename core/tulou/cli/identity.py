"""``tulou identity new-keys``: the keys that protect personal data at rest."""

from __future__ import annotations

import os
from pathlib import Path

import click

from tulou.cli.context import cli_platform
from tulou.i18n import gettext as _
from tulou.identity.crypto import new_key, new_key_id

KEY_VARIABLES = (
    "TULOU_IDENTITY__ENCRYPTION_KEYS",
    "TULOU_IDENTITY__ACTIVE_KEY",
    "TULOU_IDENTITY__BLIND_INDEX_KEY",
)


@click.group()
def identity() -> None:
    """Residents' personal data."""


@identity.command("new-keys")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=Path(".env"))
def new_keys(env_file: Path) -> None:
    """Create the encryption and blind-index keys and save them to .env, unless some exist.

    The keys are not printed: the file is their only copy, so it must be backed up.
    """
    present = _named_in(env_file) | {name for name in KEY_VARIABLES if os.environ.get(name)}
    if (
        cli_platform().settings.identity.configured
        or {KEY_VARIABLES[0], KEY_VARIABLES[2]} <= present
    ):
        click.echo(
            _("Personal-data keys are already configured (TULOU_IDENTITY__*); nothing was changed.")
        )
        return
    if present:
        raise click.ClickException(
            _(
                "Only some personal-data keys are set (%(names)s): complete them by hand, "
                "or remove them if nothing was encrypted with them yet."
            )
            % {"names": ", ".join(sorted(present))}
        )
    key_id = new_key_id()
    lines = (
        f"TULOU_IDENTITY__ENCRYPTION_KEYS={key_id}:{new_key()}\n"
        f"TULOU_IDENTITY__ACTIVE_KEY={key_id}\n"
        f"TULOU_IDENTITY__BLIND_INDEX_KEY={new_key()}\n"
    )
    existing = env_file.read_text() if env_file.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    env_file.write_text(f"{existing}{separator}{lines}")
    env_file.chmod(0o600)
    click.echo(
        _(
            "Personal-data keys created (active key %(key_id)s) and saved in %(file)s. "
            "Back this file up: without these keys the encrypted data cannot be read."
        )
        % {"key_id": key_id, "file": env_file}
    )


def _named_in(env_file: Path) -> set[str]:
    """The key variables the file sets; commented-out lines do not count."""
    if not env_file.is_file():
        return set()
    return {
        name
        for line in env_file.read_text().splitlines()
        for name in KEY_VARIABLES
        if line.strip().startswith(f"{name}=")
    }
