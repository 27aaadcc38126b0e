"""``tulou identity reencrypt``: move stored personal data to the active key; name the free keys.

The work is :func:`tulou.identity.rotation.reencrypt`; this command shows its progress
on stderr and reports per key, naming rows by id and never their values.
"""

from __future__ import annotations

import click

from tulou.cli.context import run_with_platform
from tulou.i18n import gettext as _
from tulou.exchange.subscribers import ENCRYPTED_COLUMNS as SUBSCRIPTION_SECRETS
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.people import ENCRYPTED_COLUMNS as PERSONAL_DATA
from tulou.identity.rotation import (
    DEFAULT_BATCH_SIZE,
    RotationReport,
    StoredToken,
    count_tokens,
    reencrypt as reencrypt_tokens,
)
from tulou.platform import Platform

#: Every column holding tokens under the personal-data keys: rotation must move them all
#: before an old key may leave the ring.
STORED_TOKENS = PERSONAL_DATA + SUBSCRIPTION_SECRETS


@click.command()
@click.option(
    "--batch-size", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH_SIZE, show_default=True,
    help="rows per transaction",
)
@click.option("--dry-run", is_flag=True, help="count what would change, write nothing")
def reencrypt(batch_size: int, dry_run: bool) -> None:
    """Re-encrypt every stored personal-data token under the active key, a batch at a time.

    Run it after rotate-key and a restart of the services. It is safe to run again and
    alongside the service: a row edited meanwhile is left as edited. It ends by naming
    the keys no stored token uses any more.
    """

    async def work(platform: Platform) -> tuple[RotationReport, frozenset[str]]:
        cipher = PersonalDataCipher.from_settings(platform.settings)
        total = await count_tokens(STORED_TOKENS)
        label = _("Reading %(count)d stored token(s)") % {"count": total}
        stderr = click.get_text_stream("stderr")
        with click.progressbar(length=total, label=label, file=stderr) as bar:
            report = await reencrypt_tokens(
                cipher, columns=STORED_TOKENS, batch_size=batch_size, dry_run=dry_run, progress=bar.update
            )
        return report, cipher.key_ids

    report, ring = run_with_platform(work)
    _show_moves(report)
    _show_key_usage(report, ring)
    if report.unreadable:
        rows = _rows(report.unreadable)
        unreadable = _("Tokens that do not decrypt, left unchanged: %(rows)s") % {"rows": rows}
        click.echo(unreadable, err=True)
        raise click.ClickException(
            _(
                "%(count)d stored token(s) could not be read: their key is missing from "
                "TULOU_IDENTITY__ENCRYPTION_KEYS or the data was altered."
            )
            % {"count": len(report.unreadable)}
        )


def _show_moves(report: RotationReport) -> None:
    if report.dry_run:
        click.echo(_("Dry run: nothing was written."))
        moved = _("%(count)d token(s) from key %(old)s would be re-encrypted under %(new)s")
    else:
        moved = _("%(count)d token(s) from key %(old)s re-encrypted under %(new)s")
    if not report.reencrypted:
        click.echo(
            _("No token needed re-encrypting under the active key %(key_id)s.")
            % {"key_id": report.active_key}
        )
    for old, count in sorted(report.reencrypted.items()):
        click.echo(moved % {"count": count, "old": old, "new": report.active_key})
    if report.changed_meanwhile:
        click.echo(
            _("Changed through the API while this ran, left as they were written: %(rows)s")
            % {"rows": _rows(report.changed_meanwhile)}
        )


def _show_key_usage(report: RotationReport, ring: frozenset[str]) -> None:
    """Which keys stored tokens use, found by reading them all, and so which may leave the ring."""
    counts = sorted(report.tokens_by_key.items())
    usage = ", ".join(f"{key_id} ({count})" for key_id, count in counts)
    click.echo(_("Stored tokens by key: %(usage)s") % {"usage": usage or "-"})
    removable = report.removable_keys(ring)
    if removable:
        click.echo(
            _(
                "No stored token uses %(keys)s any more: they may be removed from "
                "TULOU_IDENTITY__ENCRYPTION_KEYS (then restart the services)."
            )
            % {"keys": ", ".join(removable)}
        )
    still_used = sorted((set(report.tokens_by_key) & ring) - {report.active_key})
    if still_used:
        keep = _("Keep %(keys)s: stored tokens still use them.")
        click.echo(keep % {"keys": ", ".join(still_used)})


def _rows(tokens: list[StoredToken]) -> str:
    """``person.phone #7, #9; person.resident_id #3``: where, never what."""
    by_context: dict[str, list[str]] = {}
    for token in tokens:
        by_context.setdefault(token.context, []).append(f"#{token.row_id}")
    return "; ".join(f"{context} {', '.join(ids)}" for context, ids in sorted(by_context.items()))
