"""The catalogue: declared and plugin datasets, publication, schema versions served side by side."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import ADMIN, DEMO_COUNTY, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient, running_app
from tests.exchange.conftest import PLOTS, PLOTS_SCHEMA, County, organisation, plot, staff
from tulou.api import DatasetSchema, PluginManifest, hookimpl
from tulou.audit.models import AuditEntry
from tulou.i18n import lazy_gettext

DATASETS = "/api/v1/datasets/"


async def plugins_datasets(client: AppClient) -> list[dict[str, Any]]:
    """The catalogue but for the datasets the core declares itself (``devices.alerts``)."""
    return [d for d in (await client.get(DATASETS, headers=ADMIN)).json() if d["plugin"] != "tulou"]
READINGS_1_0: dict[str, Any] = {"type": "object", "properties": {"level_cm": {"type": "number"}}, "required": ["level_cm"]}
READINGS_1_1 = {**READINGS_1_0, "properties": {**READINGS_1_0["properties"], "note": {"type": "string"}}}
READINGS_2_0 = {"type": "object", "properties": {"level_mm": {"type": "integer"}}, "required": ["level_mm"]}
BROKEN_1_1 = {"type": "object", "properties": {"level_cm": {"type": "string"}}}


class DatasetPlugin:
    """Registers a dataset in three versions, and a second one whose 1.1 breaks the rules."""

    def __init__(self, schemas: list[DatasetSchema] | None = None) -> None:
        self.schemas = schemas

    @hookimpl
    def plugin_manifest(self) -> PluginManifest:
        return PluginManifest(name="rivers", version="1.0.0", title="rivers")

    @hookimpl
    def register_datasets(self, register: Any) -> None:
        title = lazy_gettext("Forbidden")  # any message the core's catalogue translates
        for schema in self.schemas or [
            DatasetSchema("water.levels", "1.0", title, READINGS_1_0, classification="public"),
            DatasetSchema("water.levels", "2.0", title, READINGS_2_0, classification="public"),
            DatasetSchema("water.levels", "1.1", title, READINGS_1_1, classification="public"),
            DatasetSchema("water.gauges", "1.0", "Gauges", READINGS_1_0),
            DatasetSchema("water.gauges", "1.1", "Gauges", BROKEN_1_1),
        ]:
            register(schema)


async def test_plugin_datasets_enter_the_catalogue_as_drafts(make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="tulou.exchange.plugin_datasets"):
        async with running_app(make_app(plugins=[DatasetPlugin()])) as client:
            listed = {d["id"]: d for d in await plugins_datasets(client)}
    assert listed["water.levels"]["versions"] == ["1.0", "1.1", "2.0"]
    assert listed["water.levels"]["title"] == {"zh_CN": "禁止访问", "en": "Forbidden"}
    assert listed["water.levels"]["status"] == "draft" and listed["water.levels"]["plugin"] == "rivers"
    assert listed["water.levels"]["classification"] == "public" and listed["water.levels"]["owner"] is None
    assert listed["water.gauges"]["versions"] == ["1.0"]
    assert "water.gauges 1.1 skipped" in caplog.text
    async with running_app(make_app(plugins=[DatasetPlugin()])) as client:  # a restart changes nothing
        again = {d["id"]: d["versions"] for d in await plugins_datasets(client)}
    assert again == {"water.gauges": ["1.0"], "water.levels": ["1.0", "1.1", "2.0"]}


async def test_a_plugin_registering_a_bad_schema_fails_alone(make_app: Any) -> None:
    bad = DatasetPlugin([DatasetSchema("water.levels", "1.0", "Levels", {"type": "array"})])
    async with running_app(make_app(plugins=[bad])) as client:
        [plugin] = (await client.get("/api/v1/plugins/", headers=ADMIN)).json()
        assert await plugins_datasets(client) == []
    assert plugin["status"] == "failed" and "water.levels 1.0" in plugin["reason"]
    with pytest.raises(ValueError):
        DatasetSchema("Water Levels", "1.0", "Levels", READINGS_1_0)
    with pytest.raises(ValueError):
        DatasetSchema("water.levels", "1", "Levels", READINGS_1_0)


async def test_the_county_publishes_a_draft_with_its_keepers(make_app: Any) -> None:
    async with running_app(make_app(plugins=[DatasetPlugin()])) as client:
        bureau = await organisation(client, "县水利局", "department", DEMO_COUNTY)
        clerk = await staff(client, "clerk", "township_staff", YUNXI_TOWN)
        assert (await client.get(f"{DATASETS}water.levels", headers=clerk)).status_code == 404  # a draft
        body = {"owner": bureau, "manager": bureau, "area": DEMO_COUNTY}
        assert (await client.put(f"{DATASETS}water.levels", json=body, headers=clerk)).status_code == 403
        published = await client.put(f"{DATASETS}water.levels", json=body, headers=ADMIN)
        assert published.status_code == 200, published.text
        assert published.json()["owner"] == {"id": bureau, "name": "县水利局"} and published.json()["status"] == "published"
        seen = await client.get(f"{DATASETS}water.levels", headers=clerk)
        assert seen.status_code == 200 and seen.json()["manager"]["name"] == "县水利局"
        wrong = await client.put(f"{DATASETS}water.levels", json={**body, "owner": 999}, headers=ADMIN)
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "owner"
        assert await AuditEntry.filter(action="dataset.published", target_id="water.levels").count() == 1


async def test_declaring_checks_the_id_the_schema_and_the_keepers(county: County) -> None:
    client = county.client
    base = {"id": "water.wells", "title": {"zh_CN": "水井"}, "classification": "internal", "schema": PLOTS_SCHEMA}
    assert (await client.post(DATASETS, json={**base, "id": PLOTS}, headers=ADMIN)).status_code == 409
    assert (await client.post(DATASETS, json={**base, "id": "wells"}, headers=ADMIN)).status_code == 400
    bad_schema = await client.post(DATASETS, json={**base, "schema": {"type": "string"}}, headers=ADMIN)
    assert bad_schema.status_code == 422 and bad_schema.json()["errors"][0]["field"] == "schema"
    half = await client.post(DATASETS, json={**base, "owner": county.bureau}, headers=ADMIN)
    assert half.status_code == 422
    assert (await client.post(DATASETS, json=base, headers=county.keeper)).status_code == 403  # lacks dataset:manage
    assert await AuditEntry.filter(action="dataset.declared").count() == 1  # only the fixture's


async def test_versions_evolve_and_majors_are_served_side_by_side(county: County) -> None:
    client, versions = county.client, f"{DATASETS}{PLOTS}/versions"
    await county.write("old", SHANGPING_VILLAGE, plot("old field"))
    minor = {**PLOTS_SCHEMA, "properties": {**PLOTS_SCHEMA["properties"], "slope": {"type": "number"}}}
    added = await client.post(versions, json={"schema": minor}, headers=ADMIN)
    assert added.status_code == 201 and added.json()["version"] == "1.1"
    renamed = {**minor, "properties": {k: v for k, v in minor["properties"].items() if k != "area_mu"} | {"area_m2": {"type": "number"}},
               "required": ["name", "crop", "area_m2"]}
    refused = await client.post(versions, json={"schema": renamed}, headers=ADMIN)
    assert refused.status_code == 422 and "area_mu" in refused.json()["detail"]
    major = await client.post(versions, params={"major": "true"}, json={"schema": renamed}, headers=ADMIN)
    assert major.status_code == 201 and major.json()["version"] == "2.0"
    assert [v["version"] for v in (await client.get(versions, headers=county.keeper)).json()] == ["1.0", "1.1", "2.0"]
    assert (await client.get(f"{versions}/1.1", headers=county.keeper)).json()["schema"] == minor
    assert (await client.get(f"{versions}/3.0", headers=county.keeper)).status_code == 404

    records = f"{DATASETS}{PLOTS}/records/"
    new = {"id": "new", "area": SHANGPING_VILLAGE, "data": {"name": "n", "crop": "rice", "area_m2": 1200}}
    assert (await client.post(records, json=new, headers=county.keeper)).status_code == 201  # latest major by default
    old_shape = {"id": "new", "area": SHANGPING_VILLAGE, "data": {**plot("n"), "slope": 3}}
    made = await client.post(records, params={"version": 1}, json=old_shape, headers=county.keeper)
    assert made.status_code == 201 and made.json()["dataset_version"] == "1.1"  # the same id, in major 1
    assert [r["id"] for r in (await client.get(records, headers=county.keeper)).json()["items"]] == ["new"]
    assert [r["id"] for r in (await client.get(records, params={"version": 1}, headers=county.keeper)).json()["items"]] \
        == ["old", "new"]
    assert (await client.get(records, params={"version": 7}, headers=county.keeper)).status_code == 422
    feed = (await client.get(f"{DATASETS}{PLOTS}/changes", headers=county.keeper)).json()["changes"]
    assert [(c["id"], c["dataset_version"]) for c in feed] == [("new", "2.0")]


async def test_the_catalogue_shows_each_caller_what_meets_its_areas(county: County) -> None:
    meilin = await organisation(county.client, "梅林乡人民政府", "township_government", "350899200000")
    body = {"id": "meilin.tea", "title": {"zh_CN": "茶园", "en": "Tea gardens"}, "classification": "public",
            "schema": PLOTS_SCHEMA, "owner": meilin, "manager": meilin, "area": "350899200000"}
    assert (await county.client.post(DATASETS, json=body, headers=ADMIN)).status_code == 201
    yunxi = [d["id"] for d in (await county.client.get(DATASETS, headers=county.yunxi_clerk)).json()]
    assert yunxi == [PLOTS]  # Meilin's public dataset lies outside Yunxi
    assert [d["id"] for d in (await county.client.get(DATASETS, headers=county.keeper)).json()] == [PLOTS, "meilin.tea"]
    assert (await county.client.get(f"{DATASETS}meilin.tea", headers=county.yunxi_clerk)).status_code == 404


async def test_public_datasets_show_every_field_within_the_readers_areas(client: AppClient) -> None:
    bureau = await organisation(client, "县农业农村局", "department", DEMO_COUNTY)
    body = {"id": "agriculture.prices", "title": {"zh_CN": "价格"}, "classification": "public",
            "schema": PLOTS_SCHEMA, "owner": bureau, "manager": bureau, "area": DEMO_COUNTY}
    assert (await client.post(DATASETS, json=body, headers=ADMIN)).status_code == 201
    records = f"{DATASETS}agriculture.prices/records/"
    for key, area in (("here", SHANGPING_VILLAGE), ("there", "350899101201")):
        made = await client.post(records, json={"id": key, "area": area, "data": plot(key)}, headers=ADMIN)
        assert made.status_code == 201
    reader = await staff(client, "reader", "village_committee", SHANGPING_VILLAGE)
    listed = (await client.get(records, headers=reader)).json()["items"]
    assert [(r["id"], r["data"]) for r in listed] == [("here", plot("here"))]
    assert (await client.post(records, json={"area": SHANGPING_VILLAGE, "data": plot("x")}, headers=reader)).status_code == 403
