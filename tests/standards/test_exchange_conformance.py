"""Conformance of the data-exchange standard (``standards/exchange/``), over HTTP.

A vendor's implementation passes when these answers hold: every body validates against
its JSON Schema, writes carry ETags and refuse stale ``If-Match`` with 412, a bad record
gets one 422 naming the JSON path of each fault, the change feed and the record lists
page with their cursors, a grantee sees only the agreed fields and areas, and records of
a dataset with a Smart Data Model read as NGSI-LD entities. The schemas are checked
against the msgspec Structs they are generated from, and the examples against the schemas.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from litestar import Litestar

from tests.conftest import ADMIN, DEMO_COUNTY, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, AppClient, running_app
from tests.exchange.conftest import organisation, staff
from tests.standards.schema_check import errors
from tests.standards.standard import Standard

EXCHANGE = Standard("exchange")
STANDARD, SCHEMAS, EXAMPLES = EXCHANGE.root, EXCHANGE.schemas, EXCHANGE.examples
schema, example, conforms, problem = EXCHANGE.schema, EXCHANGE.example, EXCHANGE.conforms, EXCHANGE.problem
load_generator = EXCHANGE.generator
HAND_WRITTEN = {"problem.schema.json", "ngsi-ld-entity.schema.json"}
PLOTS = "agriculture.plots"
DATASETS = "/api/v1/datasets/"
RECORDS = f"/api/v1/datasets/{PLOTS}/records/"


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AppClient]:
    async with running_app(make_app(plugins=[])) as test_client:
        yield test_client


# The documents of the standard


def test_committed_schemas_are_what_the_code_generates() -> None:
    generator = load_generator()
    generated = {name: generator.render(body) for name, body in generator.generated().items()}
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS.glob("*.schema.json")}
    assert set(generator.HAND_WRITTEN) == HAND_WRITTEN and all(committed.pop(name) for name in HAND_WRITTEN)
    assert committed == generated, "run standards/exchange/generate_schemas.py and commit its output"


@pytest.mark.parametrize("example_name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_validates_against_its_schema(example_name: str) -> None:
    """``<schema>.<label>.json`` is an example of ``schemas/<schema>.schema.json``."""
    assert errors(example(example_name), schema(example_name.split(".")[0])) == []


def test_the_schemas_reject_what_the_spec_forbids() -> None:
    record = example("record-in.plot.json")
    assert errors({**record, "id": "SP 017"}, schema("record-in")) != [], "record keys are [A-Za-z0-9._:-]"
    assert errors({**record, "version": 2}, schema("record-in")) == [
        "$: Additional properties are not allowed ('version' was unexpected)"
    ]
    dataset = example("dataset-in.agriculture-plots.json")
    assert errors({**dataset, "id": "Plots"}, schema("dataset-in")) != [], "dataset ids are dotted lower-case words"
    assert errors({**dataset, "field_map": {"name": {"attribute": "hasX"}}}, schema("dataset-in")) != []
    entity = example("ngsi-ld-entity.agri-parcel.json")
    assert errors({**entity, "id": "SP-017"}, schema("ngsi-ld-entity")) != [], "entity ids are NGSI-LD URNs"


EXCHANGE_PREFIXES = ("/api/v1/datasets", "/api/v1/agreements", "/api/v1/subscriptions")


@pytest.mark.parametrize("spec", ["spec.en.md", "spec.zh.md"])
def test_the_spec_lists_every_exchange_endpoint_and_only_those(spec: str, make_app: Callable[..., Litestar]) -> None:
    EXCHANGE.check_endpoint_table(make_app(plugins=[]), spec, lambda path: path.startswith(EXCHANGE_PREFIXES))
    EXCHANGE.check_every_schema_is_named(spec)


# Over HTTP


async def published_plots(client: AppClient) -> tuple[int, dict[str, str]]:
    """The bureau's plots dataset, declared from the example and published county-wide; its keeper's header."""
    bureau = await organisation(client, "县农业农村局", "department", DEMO_COUNTY)
    declared = await client.post(DATASETS, json={**example("dataset-in.agriculture-plots.json"), "owner": bureau,
                                                  "manager": bureau, "area": DEMO_COUNTY}, headers=ADMIN)
    dataset = conforms(declared, "dataset-out", 201)
    assert dataset["status"] == "published" and dataset["versions"] == ["1.0"] and dataset["owner"]["id"] == bureau
    return bureau, await staff(client, "keeper", "township_admin", DEMO_COUNTY, bureau)


async def township_b_request(client: AppClient) -> tuple[dict[str, str], dict[str, Any]]:
    """Shimen's clerk asks, for the township government, as the example agreement does: its header and the request."""
    shimen = await organisation(client, "石门镇人民政府", "township_government", SHIMEN_TOWN)
    clerk = await staff(client, "shimen_clerk", "township_staff", SHIMEN_TOWN, shimen)
    asked = {**example("agreement-in.township-b.json"), "organisation": shimen,
             "expires_at": (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()}
    return clerk, conforms(await client.post("/api/v1/agreements/", json=asked, headers=clerk), "agreement-out", 201)


async def test_the_catalogue_and_its_versions_conform(client: AppClient) -> None:
    bureau, keeper = await published_plots(client)
    listed = conforms(await client.get(DATASETS, headers=keeper), "dataset-list", 200)
    assert [d["id"] for d in listed] == [PLOTS] and listed[0]["manager"]["id"] == bureau
    conforms(await client.put(f"{DATASETS}{PLOTS}", json={**example("publish-in.bureau.json"), "owner": bureau,
                                                          "manager": bureau}, headers=ADMIN), "dataset-out", 200)
    first = example("dataset-in.agriculture-plots.json")["schema"]
    wider = {**first, "properties": {**first["properties"], "terraced": {"type": "boolean"}}}
    added = conforms(await client.post(f"{DATASETS}{PLOTS}/versions", json={"schema": wider}, headers=ADMIN),
                     "version-out", 201)
    assert added["version"] == "1.1"
    narrower = {**first, "required": [*first["required"], "land_use"]}
    refused = problem(await client.post(f"{DATASETS}{PLOTS}/versions", json={"schema": narrower}, headers=ADMIN), 422)
    assert refused["errors"][0]["field"] == "schema"
    major = await client.post(f"{DATASETS}{PLOTS}/versions", params={"major": "true"}, json={"schema": narrower},
                              headers=ADMIN)
    assert conforms(major, "version-out", 201)["version"] == "2.0"
    versions = conforms(await client.get(f"{DATASETS}{PLOTS}/versions", headers=keeper), "version-list", 200)
    assert [v["version"] for v in versions] == ["1.0", "1.1", "2.0"]
    conforms(await client.get(f"{DATASETS}{PLOTS}/versions/1.1", headers=keeper), "version-out", 200)
    problem(await client.get(f"{DATASETS}no.such", headers=keeper), 404)


async def test_records_conform_with_etags_412_and_paths_of_errors(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    record = example("record-in.plot.json")
    created = await client.post(RECORDS, json=record, headers=keeper)
    assert conforms(created, "record-out", 201)["version"] == 1 and created.headers["etag"] == '"1"'
    url = f"{RECORDS}{record['id']}"
    read = await client.get(url, headers=keeper)
    assert conforms(read, "record-out", 200)["data"] == record["data"] and read.headers["etag"] == '"1"'
    first = {**keeper, "If-Match": '"1"'}
    replaced = await client.put(url, json={"data": {**record["data"], "crop": "tea"}}, headers=first)
    assert conforms(replaced, "record-out", 200)["version"] == 2 and replaced.headers["etag"] == '"2"'
    stale = problem(await client.patch(url, json={"data": {"crop": "maize"}}, headers=first), 412)
    assert stale["type"] == "urn:tulou:problem:precondition-failed" and stale["errors"][0]["field"] == "If-Match"
    patched = conforms(await client.patch(url, json={"data": {"household": None}}, headers=keeper), "record-out", 200)
    assert "household" not in patched["data"] and patched["version"] == 3
    bad = {**record, "id": "SP-018", "data": {**record["data"], "area_m2": -3}}
    del bad["data"]["boundary"]
    invalid = problem(await client.post(RECORDS, json=bad, headers=keeper), 422)
    assert sorted(e["path"] for e in invalid["errors"]) == ["$.area_m2", "$.boundary"]
    moved = problem(await client.put(url, json={"data": record["data"], "area": NANYANG_VILLAGE}, headers=keeper), 422)
    assert moved["errors"][0]["field"] == "area"
    assert (await client.delete(url, headers={**keeper, "If-Match": '"3"'})).status_code == 204
    problem(await client.get(url, headers=keeper), 404)
    page = conforms(await client.get(RECORDS, params={"include_deleted": "true"}, headers=keeper), "record-page", 200)
    [tombstone] = page["items"]
    assert tombstone["deleted"] is True and tombstone["data"] == {} and tombstone["version"] == 4


async def test_lists_and_the_change_feed_page_with_cursors(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    record = example("record-in.plot.json")
    for number, crop in enumerate(["rice", "tea", "rice"]):
        made = {**record, "id": f"SP-{number}", "data": {**record["data"], "crop": crop}}
        conforms(await client.post(RECORDS, json=made, headers=keeper), "record-out", 201)
    first = conforms(await client.get(RECORDS, params={"limit": 2}, headers=keeper), "record-page", 200)
    assert [r["id"] for r in first["items"]] == ["SP-0", "SP-1"] and first["next"] is not None
    rest = conforms(await client.get(RECORDS, params={"limit": 2, "cursor": first["next"]}, headers=keeper),
                    "record-page", 200)
    assert [r["id"] for r in rest["items"]] == ["SP-2"] and rest["next"] is None
    rice = conforms(await client.get(RECORDS, params={"filter[crop]": "rice"}, headers=keeper), "record-page", 200)
    assert [r["id"] for r in rice["items"]] == ["SP-0", "SP-2"]
    problem(await client.get(RECORDS, params={"cursor": "not-one"}, headers=keeper), 422)
    changes = f"/api/v1/datasets/{PLOTS}/changes"
    feed = conforms(await client.get(changes, params={"limit": 2}, headers=keeper), "change-page", 200)
    assert [c["op"] for c in feed["changes"]] == ["create", "create"] and feed["more"] is True
    tail = conforms(await client.get(changes, params={"after": feed["next"]}, headers=keeper), "change-page", 200)
    assert [c["id"] for c in tail["changes"]] == ["SP-2"] and tail["more"] is False
    assert [c["seq"] for c in feed["changes"] + tail["changes"]] == [1, 2, 3]


async def test_a_grantee_reads_only_what_its_agreement_grants_on_every_path(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    record = example("record-in.plot.json")
    for key, area in (("SP-017", SHANGPING_VILLAGE), ("NY-1", NANYANG_VILLAGE)):
        made = await client.post(RECORDS, json={**record, "id": key, "area": area}, headers=keeper)
        conforms(made, "record-out", 201)
    clerk, agreement = await township_b_request(client)
    assert agreement["status"] == "requested" and agreement["active"] is False
    problem(await client.get(RECORDS, headers=clerk), 403)
    url = f"/api/v1/agreements/{agreement['id']}"
    approved = conforms(await client.post(f"{url}/approve", json={"fields": ["crop", "area_m2"]}, headers=keeper),
                        "agreement-out", 200)
    assert approved["fields_granted"] == ["area_m2", "crop"] and approved["active"] is True
    conforms(await client.get("/api/v1/agreements/", headers=clerk), "agreement-list", 200)
    page = conforms(await client.get(RECORDS, headers=clerk), "record-page", 200)
    assert [(r["id"], sorted(r["data"])) for r in page["items"]] == [("NY-1", ["area_m2", "crop"])]
    problem(await client.get(f"{RECORDS}SP-017", headers=clerk), 404)
    feed = conforms(await client.get(f"/api/v1/datasets/{PLOTS}/changes", headers=clerk), "change-page", 200)
    assert [(c["id"], sorted(c["data"])) for c in feed["changes"]] == [("NY-1", ["area_m2", "crop"])]
    entity = await client.get(f"{RECORDS}NY-1", params={"format": "ngsi-ld"}, headers=clerk)
    assert entity.headers["content-type"].startswith("application/ld+json")
    parcel = conforms(entity, "ngsi-ld-entity", 200)
    assert {"hasAgriCrop", "area"} <= set(parcel) and not {"location", "name"} & set(parcel)
    conforms(await client.post(f"{url}/revoke", json={"note": "补贴核对结束"}, headers=keeper), "agreement-out", 200)
    problem(await client.get(RECORDS, headers=clerk), 403)


async def test_ngsi_ld_lists_conform_and_page_with_link_headers(client: AppClient) -> None:
    _bureau, keeper = await published_plots(client)
    record = example("record-in.plot.json")
    conforms(await client.post(RECORDS, json=record, headers=keeper), "record-out", 201)
    conforms(await client.post(RECORDS, json={**record, "id": "SP-018"}, headers=keeper), "record-out", 201)
    listed = await client.get(RECORDS, params={"format": "ngsi-ld", "limit": 1}, headers=keeper)
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/ld+json")
    [parcel] = listed.json()
    assert errors(parcel, schema("ngsi-ld-entity")) == []
    expected = example("ngsi-ld-entity.agri-parcel.json")
    assert {k: v for k, v in parcel.items() if not k.startswith("date")} == \
        {k: v for k, v in expected.items() if not k.startswith("date")}
    following = re.fullmatch(r'<([^>]+)>; rel="next"', listed.headers["link"])
    assert following is not None
    last_page = await client.get(following.group(1), headers=keeper)
    [second] = last_page.json()
    assert second["id"].endswith(":SP-018") and errors(second, schema("ngsi-ld-entity")) == []
    assert "link" not in last_page.headers
    single = await client.get(f"{RECORDS}SP-018", params={"format": "ngsi-ld"}, headers=keeper)
    assert conforms(single, "ngsi-ld-entity", 200) == second and single.headers["etag"] == '"1"'
    modelless = {**example("dataset-in.agriculture-plots.json"), "id": "agriculture.wells", "smart_data_model": None,
                 "field_map": {}}
    conforms(await client.post(DATASETS, json=modelless, headers=ADMIN), "dataset-out", 201)
    refused = problem(await client.get("/api/v1/datasets/agriculture.wells/records/", params={"format": "ngsi-ld"},
                                       headers=ADMIN), 422)
    assert refused["errors"][0]["field"] == "format"
