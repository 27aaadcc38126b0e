"""Conformance of the data-exchange standard's section 12, over HTTP: idempotent writes, imports, exports, events.

A vendor's implementation passes when a write sent twice under one ``Idempotency-Key``
runs once and answers the same, a reused key is 422 and concurrent twins write once;
when an import answers ``import-report``, or 422 ``import-problem`` naming each bad row's
line and writing nothing; when the three export formats hold exactly what a list would
show (the CSV export of the example plots being the example CSV); and when a
subscriber receives each change as a signed ``event``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from litestar import Litestar
from openpyxl import load_workbook

from tests.conftest import DEMO_COUNTY, NANYANG_VILLAGE, AppClient, running_app
from tests.exchange.receiver import Receiver, deliver_until_settled, receiver_running
from tests.standards.schema_check import errors
from tests.standards.test_exchange_conformance import EXCHANGE, PLOTS, RECORDS, published_plots, township_b_request

conforms, problem, example, schema = EXCHANGE.conforms, EXCHANGE.problem, EXCHANGE.example, EXCHANGE.schema
IMPORT = f"/api/v1/datasets/{PLOTS}/records:import"
EXPORT = f"/api/v1/datasets/{PLOTS}/records:export"
NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}
KEY = "Idempotency-Key"


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AppClient]:
    """Deliveries may go to the receiver on 127.0.0.1 (plain http, for the test only)."""
    async with running_app(make_app(plugins=[], exchange={"webhook_allow": "127.0.0.1"})) as test_client:
        yield test_client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_running() as running:
        yield running


def example_text(file_name: str) -> bytes:
    return (EXCHANGE.examples / file_name).read_bytes()


def example_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in example_text("records.plots.ndjson").decode().splitlines()]


def ndjson(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


async def feed_length(client: AppClient, headers: dict[str, str]) -> int:
    page = await client.get(f"/api/v1/datasets/{PLOTS}/changes", params={"limit": 1000}, headers=headers)
    return len(conforms(page, "change-page", 200)["changes"])


def test_the_import_examples_are_lines_of_record_in_and_a_sheet_of_the_same_plots() -> None:
    lines = example_lines()
    assert lines and all(errors(line, schema("record-in")) == [] for line in lines)
    sheet = list(csv.DictReader(io.StringIO(example_text("records.plots.csv").decode("utf-8-sig"))))
    properties = list(example("dataset-in.agriculture-plots.json")["schema"]["properties"])
    assert list(sheet[0]) == ["id", "area", "version", *properties]
    assert [(row["id"], row["area"], row["name"]) for row in sheet] == \
        [(line["id"], line["area"], line["data"]["name"]) for line in lines]


# 12.1 Idempotent writes


async def test_a_write_sent_again_under_its_key_is_answered_the_same_and_runs_once(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    record = {k: v for k, v in example("record-in.plot.json").items() if k != "id"}  # a new id on every run
    keyed = {**keeper, KEY: "create-017"}
    first, again = [await client.post(RECORDS, json=record, headers=keyed) for _ in range(2)]
    assert conforms(again, "record-out", 201) == conforms(first, "record-out", 201)
    assert again.headers["etag"] == first.headers["etag"] == '"1"'
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await feed_length(client, keeper) == 1
    other = problem(await client.post(RECORDS, json={**record, "id": "SP-099"}, headers=keyed), 422)
    assert other["errors"][0]["field"] == KEY and await feed_length(client, keeper) == 1
    url = f"{RECORDS}{first.json()['id']}"
    deleted = [await client.delete(url, headers={**keeper, KEY: "delete-017"}) for _ in range(2)]
    assert [d.status_code for d in deleted] == [204, 204] and await feed_length(client, keeper) == 2
    problem(await client.post(RECORDS, json=record, headers={**keeper, KEY: "not a key"}), 422)


async def test_a_failed_write_keeps_no_key_and_concurrent_twins_write_once(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    record = example("record-in.plot.json")
    keyed = {**keeper, KEY: "plot-017"}
    bad = {**record, "data": {**record["data"], "area_m2": -1}}
    problem(await client.post(RECORDS, json=bad, headers=keyed), 422)
    answers = await asyncio.gather(*(client.post(RECORDS, json=record, headers=keyed) for _ in range(4)))
    bodies = [conforms(answer, "record-out", 201) for answer in answers]
    assert all(body == bodies[0] for body in bodies) and await feed_length(client, keeper) == 1
    assert sum("idempotent-replayed" in answer.headers for answer in answers) == 3


async def test_agreement_decisions_replay_under_their_key(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    _clerk, requested = await township_b_request(client)
    approve = f"/api/v1/agreements/{requested['id']}/approve"
    decided = [await client.post(approve, json=example("approval-in.narrowed.json"), headers={**keeper, KEY: "ok"})
               for _ in range(2)]
    assert conforms(decided[1], "agreement-out", 200) == conforms(decided[0], "agreement-out", 200)
    assert decided[1].headers["idempotent-replayed"] == "true"


# 12.2 Bulk import


async def test_an_import_answers_its_report_and_writes_each_row_as_a_change(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    imported = await client.post(IMPORT, content=example_text("records.plots.ndjson"), headers={**keeper, **NDJSON})
    assert conforms(imported, "import-report", 200) == {"created": 3, "updated": 0, "invalid": 0, "bad_rows": []}
    feed = conforms(await client.get(f"/api/v1/datasets/{PLOTS}/changes", headers=keeper), "change-page", 200)
    assert [(c["op"], c["id"]) for c in feed["changes"]] == [("create", row["id"]) for row in example_lines()]
    again = await client.post(IMPORT, content=example_text("records.plots.csv"), headers={**keeper, **CSV})
    assert conforms(again, "import-report", 200) == {"created": 0, "updated": 3, "invalid": 0, "bad_rows": []}
    read = conforms(await client.get(f"{RECORDS}NY-003", headers=keeper), "record-out", 200)
    assert read["version"] == 2 and read["data"] == example_lines()[2]["data"]
    refused = problem(await client.post(IMPORT, content=b"id,area\n", headers={**keeper, "Content-Type": "text/plain"}),
                      415)
    assert refused["type"] == "urn:tulou:problem:unsupported-media-type" and refused["errors"][0]["field"] == "Content-Type"


def bad_body() -> bytes:
    """The example plots with a negative area on line 2, the county as area on line 3, an unknown member on line 4."""
    good, negative, county = example_lines()
    negative["data"]["area_m2"] = -3
    return ndjson(good, negative, {**county, "area": DEMO_COUNTY}, {**good, "id": "SP-019", "version": 2})


BAD_ROWS = [(2, "$.area_m2", "$.area_m2"), (3, "area", None), (4, None, None)]


async def test_an_import_with_bad_rows_is_one_422_naming_their_lines_and_writes_nothing(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    rejected = await client.post(IMPORT, content=bad_body(), headers={**keeper, **NDJSON})
    body = problem(rejected, 422)
    assert errors(body, schema("import-problem")) == [] and body["invalid"] == 3
    assert [(e["line"], e["field"], e.get("path")) for e in body["errors"]] == BAD_ROWS
    assert [(e["line"], e["field"], e.get("path")) for e in example("import-problem.bad-rows.json")["errors"]] == BAD_ROWS
    assert await feed_length(client, keeper) == 0
    skipped = await client.post(IMPORT, params={"skip_invalid": "true"}, content=bad_body(), headers={**keeper, **NDJSON})
    report = conforms(skipped, "import-report", 200)
    documented = example("import-report.skip-invalid.json")
    assert (report["created"], report["updated"], report["invalid"]) == (1, 0, 3) == \
        (documented["created"], documented["updated"], documented["invalid"])
    for found in (report, documented):
        assert [(bad["line"], e["field"], e.get("path")) for bad in found["bad_rows"] for e in bad["errors"]] == BAD_ROWS
    assert await feed_length(client, keeper) == 1


# 12.3 Export


async def test_the_three_export_formats_hold_what_a_list_shows(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    imported = await client.post(IMPORT, content=example_text("records.plots.ndjson"), headers={**keeper, **NDJSON})
    conforms(imported, "import-report", 200)
    listed = conforms(await client.get(RECORDS, headers=keeper), "record-page", 200)["items"]
    exported = await client.get(EXPORT, headers=keeper)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
    assert exported.headers["content-disposition"] == f'attachment; filename="{PLOTS}.ndjson"'
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert all(errors(line, schema("record-out")) == [] for line in lines) and lines == listed
    as_csv = await client.get(EXPORT, params={"format": "csv"}, headers=keeper)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content == example_text("records.plots.csv"), "the CSV export of the example plots is the example CSV"
    as_xlsx = await client.get(EXPORT, params={"format": "xlsx"}, headers=keeper)
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).worksheets[0]
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert sheet.title == PLOTS and [[_text(cell) for cell in row] for row in sheet.iter_rows(values_only=True)] == rows
    problem(await client.get(EXPORT, params={"format": "xml"}, headers=keeper), 400)


def _text(cell: Any) -> str:
    """An xlsx cell as the CSV export writes it."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    return str(cell)


async def test_a_grantee_exports_only_its_agreed_fields_and_areas(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    conforms(await client.post(IMPORT, content=example_text("records.plots.ndjson"), headers={**keeper, **NDJSON}),
             "import-report", 200)
    clerk, agreement = await township_b_request(client)
    granted = ["crop", "area_m2"]
    conforms(await client.post(f"/api/v1/agreements/{agreement['id']}/approve", json={"fields": granted},
                               headers=keeper), "agreement-out", 200)
    exported = await client.get(EXPORT, params={"format": "csv"}, headers=clerk)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows == [["id", "area", "version", "crop", "area_m2"], ["NY-003", NANYANG_VILLAGE, "1", "maize", "980.5"]]


# 12.4 Events


async def test_a_subscriber_receives_each_change_as_a_signed_event(client: AppClient, receiver: Receiver) -> None:
    _bureau, keeper = await published_plots(client)
    made = await client.post(f"/api/v1/datasets/{PLOTS}/subscriptions/", json={"url": receiver.url}, headers=keeper)
    secret = conforms(made, "subscription-created", 201)["secret"]
    conforms(await client.post(IMPORT, content=example_text("records.plots.ndjson"), headers={**keeper, **NDJSON}),
             "import-report", 200)
    await deliver_until_settled(client.app)
    events = sorted((request.event for request in receiver.delivered), key=lambda event: event["change"]["seq"])
    assert [event["change"]["id"] for event in events] == [row["id"] for row in example_lines()]
    assert all(errors(event, schema("event")) == [] for event in events)
    assert all(request.signed_with(secret) and request.event_id == request.event["event_id"]
               for request in receiver.delivered)
    assert errors(example("event.township-b.json"), schema("event")) == []
