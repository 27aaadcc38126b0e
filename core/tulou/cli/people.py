"""``tulou people import``: residents from the Excel or CSV lists county staff keep."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from tulou.cli.context import COMMAND_LINE, echo_bad_rows, nothing_written, run_with_platform
from tulou.i18n import gettext as _
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.people_import import PeopleImport, Progress, default_report_path, import_people, write_report
from tulou.platform import Platform

#: Whoever runs ``tulou`` on the server acts county-wide; the audit names them ``cli``.


@click.group()
def people() -> None:
    """Residents."""


@people.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="write the good rows; list the bad ones in a CSV report")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where the report goes (default: FILE-errors.csv beside FILE); needs --skip-invalid")
@click.option("--dry-run", is_flag=True, help="check and report only; write nothing to the database")
def import_command(file: Path, skip_invalid: bool, report: Path | None, dry_run: bool) -> None:
    """Import residents from FILE (.xlsx or .csv, Chinese or English headers): all rows or none."""
    if report is not None and not skip_invalid:
        raise click.UsageError(_("--report needs --skip-invalid"))
    if report is not None and report.resolve() == file.resolve():
        raise click.UsageError(_("--report must not be FILE itself"))

    async def work(platform: Platform) -> PeopleImport:
        cipher = PersonalDataCipher.from_settings(platform.settings)
        with _progress_bar() as progress:
            return await import_people(
                file, cipher, platform.person_tags, COMMAND_LINE, skip_invalid=skip_invalid, dry_run=dry_run, progress=progress,
            )

    result = run_with_platform(work)
    echo_bad_rows(result.errors)
    if result.bad and not skip_invalid:
        raise nothing_written(len(result.bad))
    if result.bad:
        path = write_report(result, report or default_report_path(file))
        click.echo(_("%(count)d bad row(s) skipped; they are listed in %(path)s") % {"count": len(result.bad), "path": path})
    counts = {"people": len(result.good), "households": result.households_created}
    if dry_run:
        click.echo(_("Dry run: %(people)d person(s) and %(households)d new household(s) would be created; "
                     "nothing was written") % counts)
    else:
        click.echo(_("%(people)d person(s) created, %(households)d new household(s)") % counts)


@contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    """A bar on stderr while rows are checked, on a terminal only and once the file's size is known."""
    if not sys.stderr.isatty():
        yield None
        return
    bars: list[Any] = []  # click's ProgressBar, made on the first report

    def advance(done: int, expected: int | None) -> None:
        if not bars and expected:
            bars.append(click.progressbar(length=expected, label=_("Checking rows"), file=sys.stderr))
        if bars:
            bars[0].update(done - bars[0].pos)

    try:
        yield advance
    finally:
        if bars:
            bars[0].render_finish()
