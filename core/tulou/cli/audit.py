"""``tulou audit verify``: check that no audit entry was edited, removed or moved."""

from __future__ import annotations

import click

from tulou.audit.service import ChainReport, verify_chain
from tulou.cli.context import run_with_platform
from tulou.i18n import gettext as _


def _reason(report: ChainReport) -> str:
    return {
        "hash mismatch": _("the entry was edited"),
        "prev_hash mismatch": _("an entry before it was removed or moved"),
        "gap in sequence": _("entries before it are missing"),
        "truncated": _("the newest entries are missing"),
    }.get(report.reason or "", report.reason or "")


@click.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command()
def verify() -> None:
    """Recompute the chain; exit 1 at the first broken link."""
    report = run_with_platform(lambda _platform: verify_chain())
    if report.ok:
        click.echo(_("chain intact: %(count)d entries") % {"count": report.checked})
        return
    message = _("chain broken at entry %(id)d: %(reason)s (%(count)d entries intact before it)")
    raise click.ClickException(message % {"id": report.broken_id, "reason": _reason(report), "count": report.checked})
