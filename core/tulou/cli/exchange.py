"""``tulou exchange import``: records from NDJSON, CSV or Excel files, through the same checks as the API."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from tulou.cli.context import COMMAND_LINE, run_with_platform
from tulou.exchange.bulk import ImportRejected, ImportResult, Progress, import_records
from tulou.exchange.catalogue import visible_dataset
from tulou.exchange.sources import SourceRow, csv_rows, file_chunks, ndjson_rows, xlsx_rows
from tulou.exchange.versions import latest_version
from tulou.i18n import gettext as _
from tulou.platform import Platform

SUFFIXES = (".ndjson", ".jsonl", ".csv", ".xlsx")


@click.group()
def exchange() -> None:
    """Datasets and their records."""


async def _rows(dataset_id: str, file: Path) -> AsyncIterator[SourceRow]:
    suffix = file.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        async for row in ndjson_rows(file_chunks(file)):
            yield row
        return
    dataset = await visible_dataset(COMMAND_LINE, dataset_id)
    schema = (await latest_version(dataset.id)).schema
    if suffix == ".csv":
        async for row in csv_rows(file_chunks(file), schema):
            yield row
    else:
        for row in xlsx_rows(file, schema):
            yield row


def _echo_bad_rows(result: ImportResult) -> None:
    for bad in result.bad_rows:
        for error in bad.errors:
            problem = error.message if error.field is None else f"{error.field}: {error.message}"
            click.echo(_("line %(line)d: %(problem)s") % {"line": bad.line, "problem": problem}, err=True)
    if result.invalid > len(result.bad_rows):
        click.echo(_("... and %(count)d more bad row(s)") % {"count": result.invalid - len(result.bad_rows)}, err=True)


@exchange.command("import")
@click.argument("dataset")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="write the good rows and list the bad ones")
@click.option("--area", default=None, help="the area code of rows that name none")
def import_command(dataset: str, file: Path, skip_invalid: bool, area: str | None) -> None:
    """Import DATASET's records from FILE (.ndjson, .csv or .xlsx): all rows or none. A row whose id exists updates it."""
    if file.suffix.lower() not in SUFFIXES:
        raise click.UsageError(_("FILE must be .ndjson, .csv or .xlsx"))

    async def work(_platform: Platform) -> ImportResult:
        with _progress_bar(file) as progress:
            return await import_records(COMMAND_LINE, dataset, _rows(dataset, file), skip_invalid=skip_invalid,
                                        default_area=area, progress=progress)

    try:
        result = run_with_platform(work)
    except ImportRejected as rejected:
        _echo_bad_rows(rejected.result)
        raise click.ClickException(rejected.detail) from None
    _echo_bad_rows(result)
    click.echo(_("%(created)d record(s) created, %(updated)d updated, %(invalid)d bad row(s) skipped")
               % {"created": result.created, "updated": result.updated, "invalid": result.invalid})


@contextmanager
def _progress_bar(file: Path) -> Iterator[Progress | None]:
    """Rows read so far, on stderr when it is a terminal (the total is not known before the end)."""
    if not sys.stderr.isatty():
        yield None
        return
    bars: list[Any] = []

    def advance(done: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=None, label=_("Importing %(file)s") % {"file": file.name},
                                          file=sys.stderr, show_pos=True))
        bars[0].update(done - bars[0].pos)

    try:
        yield advance
    finally:
        if bars:
            bars[0].render_finish()
