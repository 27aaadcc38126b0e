"""The demo county's data: the agriculture bureau's farm plots, 36 of them across the nine villages.

The dataset (``agriculture.plots``, the data-exchange standard's example: internal,
mapped to the FIWARE AgriParcel model so ``?format=ngsi-ld`` works) is declared by
the county agriculture bureau (云溪县农业农村局), which owns and manages it county-wide.
Its records come through the same import as any other, so they are validated and in
the change feed. There are no agreements or subscriptions: a trial makes those itself.

Loading twice changes nothing: the dataset is declared only when missing (what the
county did to it since is kept) and only plots whose id it has never held are written
(a plot deleted on purpose stays deleted).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from tulou.areas.demo import DEMO_COUNTY_CODE
from tulou.exchange.bulk import import_records
from tulou.exchange.catalogue import declare_dataset
from tulou.exchange.models import Dataset, DatasetStatus, Record
from tulou.exchange.schemas import DatasetIn
from tulou.exchange.sources import SourceRow
from tulou.identity.models import Organisation
from tulou.security.principal import Principal

DEMO_DATASET = Path(__file__).with_name("demo_plots.json")
DEMO_RECORDS = Path(__file__).with_name("demo_plots.ndjson")
AGRICULTURE_BUREAU = "云溪县农业农村局"


@dataclass(frozen=True)
class DemoData:
    """What one load added."""

    datasets: int = 0
    records: int = 0


def demo_dataset() -> dict[str, Any]:
    """The plots dataset as declared, without its keepers."""
    return json.loads(DEMO_DATASET.read_text(encoding="utf-8"))


def demo_records() -> list[dict[str, Any]]:
    """The plots as ``record-in`` objects."""
    return [json.loads(line) for line in DEMO_RECORDS.read_text(encoding="utf-8").splitlines() if line.strip()]


async def _declared(principal: Principal, bureau: Organisation) -> int:
    """1 when the dataset was declared now, 0 when it was there already."""
    declaration = demo_dataset()
    if await Dataset.exists(id=declaration["id"]):
        return 0
    body = {**declaration, "owner": bureau.id, "manager": bureau.id, "area": DEMO_COUNTY_CODE}
    await declare_dataset(principal, msgspec.convert(body, DatasetIn))
    return 1


async def _rows(records: list[dict[str, Any]]) -> AsyncIterator[SourceRow]:
    for line, record in enumerate(records, start=1):
        yield SourceRow(line, record["id"], record["area"], record["data"])


async def load_demo_data(principal: Principal) -> DemoData:
    """Declare the plots dataset and write its plots, whichever of them are missing."""
    bureau = await Organisation.get_or_none(name=AGRICULTURE_BUREAU, area_id=DEMO_COUNTY_CODE)
    if bureau is None:  # the organisations are loaded first: without them there is no one to own the plots
        return DemoData()
    datasets = await _declared(principal, bureau)
    dataset = await Dataset.get(id=demo_dataset()["id"])
    if dataset.status is not DatasetStatus.PUBLISHED:  # the county retired it: leave it alone
        return DemoData(datasets=datasets)
    held = set(await Record.filter(dataset_id=dataset.id).values_list("key", flat=True))
    missing = [record for record in demo_records() if record["id"] not in held]
    if not missing:
        return DemoData(datasets=datasets)
    result = await import_records(principal, dataset.id, _rows(missing))
    return DemoData(datasets=datasets, records=result.created)
