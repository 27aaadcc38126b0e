"""``tulou identity``: the keys that protect personal data at rest, and their rotation.

``new-keys`` creates them, ``rotate-key`` makes a new key active in the env file and
``reencrypt`` (:mod:`tulou.cli.reencrypt`) moves stored data to it, after which old
keys can leave the ring.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from tulou.cli.context import cli_platform
from tulou.cli.env_file import assignments, read_lines, replace_file, with_values
from tulou.cli.reencrypt import reencrypt
from tulou.i18n import gettext as _
from tulou.identity.crypto import new_key, new_key_id
from tulou.settings import parse_keyring

ENCRYPTION_KEYS = "TULOU_IDENTITY__ENCRYPTION_KEYS"
ACTIVE_KEY = "TULOU_IDENTITY__ACTIVE_KEY"
KEY_VARIABLES = (ENCRYPTION_KEYS, ACTIVE_KEY, "TULOU_IDENTITY__BLIND_INDEX_KEY")


@click.group()
def identity() -> None:
    """Residents' personal data."""


identity.add_command(reencrypt)


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
    replace_file(env_file, f"{existing}{separator}{lines}")
    click.echo(
        _(
            "Personal-data keys created (active key %(key_id)s) and saved in %(file)s. "
            "Back this file up: without these keys the encrypted data cannot be read."
        )
        % {"key_id": key_id, "file": env_file}
    )


def _named_in(env_file: Path) -> set[str]:
    """The key variables the file sets; commented-out lines do not count."""
    lines = read_lines(env_file)
    return {name for name in KEY_VARIABLES if assignments(lines, name)}


@identity.command("rotate-key")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=Path(".env"))
def rotate_key(env_file: Path) -> None:
    """Add a new encryption key to the env file and make it the active one; the old keys stay.

    Data written earlier keeps decrypting with its old key until tulou identity
    reencrypt moves it. The new key is not printed.
    """
    cli_platform()
    _refuse_keys_from_environment(env_file)
    lines = read_lines(env_file)
    entries = _ring_entries(lines, env_file)
    _the_one_value(lines, ACTIVE_KEY, env_file)
    old_ids = [entry.partition(":")[0] for entry in entries]
    key_id = new_key_id()
    while key_id in old_ids:
        key_id = new_key_id()
    ring = ",".join([*entries, f"{key_id}:{new_key()}"])
    changed = with_values(lines, {ENCRYPTION_KEYS: ring, ACTIVE_KEY: key_id})
    replace_file(env_file, "\n".join(changed) + "\n")
    click.echo(
        _(
            "Key %(key_id)s added to %(file)s and made the active key; the older keys "
            "(%(old)s) stay, so data written with them still decrypts."
        )
        % {"key_id": key_id, "file": env_file, "old": ", ".join(old_ids)}
    )
    click.echo(
        _(
            "Next: restart every Tulou service that reads this file, "
            "then run: tulou identity reencrypt"
        )
    )


def _refuse_keys_from_environment(env_file: Path) -> None:
    """The process environment overrides the file: editing the file would change nothing."""
    rotated = {ENCRYPTION_KEYS, ACTIVE_KEY}
    present = sorted(name for name in os.environ if name.upper() in rotated)
    if present:
        raise click.ClickException(
            _(
                "%(names)s is set in this command's environment, which overrides %(file)s: "
                "nothing was changed. If the keys belong in the file, run the command without "
                "these variables (as root, not through tulou-admin). If the service takes its "
                "keys from its environment, rotate by hand there: append a new key-id:key entry "
                "to TULOU_IDENTITY__ENCRYPTION_KEYS, keep the old entries, and set "
                "TULOU_IDENTITY__ACTIVE_KEY to the new id."
            )
            % {"names": ", ".join(present), "file": env_file}
        )


def _ring_entries(lines: list[str], env_file: Path) -> list[str]:
    """The ``key-id:key`` entries of the file's key ring, as written (hex or base64)."""
    text = _the_one_value(lines, ENCRYPTION_KEYS, env_file)
    if text is None:
        raise click.ClickException(
            _("%(file)s does not set %(name)s: create the keys first with: tulou identity new-keys")
            % {"file": env_file, "name": ENCRYPTION_KEYS}
        )
    try:
        parse_keyring(text)
    except ValueError as error:
        raise click.ClickException(f"{ENCRYPTION_KEYS} ({env_file}): {error}") from None
    return [entry.strip() for entry in text.split(",") if entry.strip()]


def _the_one_value(lines: list[str], name: str, env_file: Path) -> str | None:
    """The value the file gives ``name``, if any; refused when the file sets it twice."""
    found = assignments(lines, name)
    if len(found) > 1:
        raise click.ClickException(
            _("%(file)s sets %(name)s more than once: keep one line and run the command again.")
            % {"file": env_file, "name": name}
        )
    return found[0][1] if found else None
