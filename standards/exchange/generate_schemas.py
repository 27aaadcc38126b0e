"""Write one JSON Schema per data-exchange wire shape into ``schemas/``, from the msgspec Structs.

The schemas are generated, never edited by hand, so they cannot drift from the code:
``tests/standards/test_exchange_conformance.py`` fails when this script's output and the
committed files differ. Run it after changing a wire shape::

    .venv/bin/python standards/exchange/generate_schemas.py

Hand-written and not touched here: ``problem.schema.json`` (the RFC 9457 error body with
the record validator's ``errors[].path``) and ``ngsi-ld-entity.schema.json`` (the NGSI-LD
key-value entity of ``?format=ngsi-ld``, whose attributes depend on the dataset). The
rejected import's 422 (``import-problem``) is generated: it is a problem body whose
errors are the Structs the server renders them from. The exports (NDJSON lines of
``record-out``, CSV and xlsx) have no schema of their own: section 12.3 of the spec
describes their columns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec
from tulou.exchange import schemas as exchange
from tulou.exchange import subscription_schemas as subscriptions
from tulou.wire_schemas import documents, file_stem, render, write  # noqa: F401 - render: the conformance test renders with it

SCHEMAS = Path(__file__).parent / "schemas"
HAND_WRITTEN = ("problem.schema.json", "ngsi-ld-entity.schema.json")

SHAPES: tuple[type[msgspec.Struct], ...] = (
    exchange.DatasetIn, exchange.PublishIn, exchange.DatasetOut, exchange.VersionIn, exchange.VersionOut,
    exchange.RecordIn, exchange.RecordReplace, exchange.RecordPatch, exchange.RecordOut, exchange.RecordPage,
    exchange.ChangePage, exchange.ImportReport, exchange.ImportProblem,
    exchange.AgreementIn, exchange.ApprovalIn, exchange.DecisionIn, exchange.AgreementOut,
    subscriptions.SubscriptionIn, subscriptions.SubscriptionPatch, subscriptions.SubscriptionOut,
    subscriptions.SubscriptionCreated, subscriptions.DeliveryOut, subscriptions.Event,
)
LISTS: dict[str, type[msgspec.Struct]] = {
    "dataset-list": exchange.DatasetOut, "version-list": exchange.VersionOut, "agreement-list": exchange.AgreementOut,
    "subscription-list": subscriptions.SubscriptionOut, "delivery-list": subscriptions.DeliveryOut,
}


def generated() -> dict[str, dict[str, Any]]:
    """File name to schema, for every generated file."""
    raw: dict[str, dict[str, Any]] = {file_stem(shape.__name__): msgspec.json.schema(shape) for shape in SHAPES}
    raw.update({stem: msgspec.json.schema(list[item]) for stem, item in LISTS.items()})
    return documents("exchange", raw)


if __name__ == "__main__":
    sys.exit(write(SCHEMAS, generated()))
