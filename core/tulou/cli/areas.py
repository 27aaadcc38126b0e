"""``tulou areas import`` and ``tulou demo`` (areas, organisations, the plots dataset)."""

from __future__ import annotations

from pathlib import Path

import click

from tulou.areas.demo import load_demo_county
from tulou.areas.importer import ImportResult, import_areas_file
from tulou.cli.context import COMMAND_LINE, echo_bad_rows, nothing_written, run_with_platform
from tulou.exchange.demo import DemoData, load_demo_data
from tulou.i18n import gettext as _
from tulou.identity.demo import load_demo_organisations
from tulou.platform import Platform


def _report(result: ImportResult) -> None:
    if result.errors:
        echo_bad_rows(result.errors)
        raise nothing_written(len(result.errors))
    summary = _("%(created)d area(s) created, %(updated)d updated, %(unchanged)d unchanged")
    click.echo(summary % {"created": result.created, "updated": result.updated, "unchanged": result.unchanged})


@click.group()
def areas() -> None:
    """The administrative-division tree."""


@areas.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Import areas from a CSV file with columns code,name[,name_en]; all rows or none."""
    _report(run_with_platform(lambda platform: import_areas_file(platform, file, actor="cli")))


@click.command()
def demo() -> None:
    """Load the fictional demo county (云溪县): 3 townships, 12 villages and communities, their organisations,
    and the agriculture bureau's farm plots dataset."""

    async def load(platform: Platform) -> tuple[ImportResult, int, DemoData]:
        areas = await load_demo_county(platform)
        if areas.errors:
            return areas, 0, DemoData()
        return areas, await load_demo_organisations(COMMAND_LINE), await load_demo_data(COMMAND_LINE)

    areas, organisations, data = run_with_platform(load)
    _report(areas)
    click.echo(_("%(count)d demo organisation(s) created") % {"count": organisations})
    click.echo(_("%(datasets)d demo dataset(s) declared, %(records)d demo record(s) created")
               % {"datasets": data.datasets, "records": data.records})
