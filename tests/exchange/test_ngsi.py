"""``?format=ngsi-ld``: records of a dataset that declares a Smart Data Model, as NGSI-LD key-value entities.

The dataset is the standard's own example (``standards/exchange/examples``): the county
agriculture bureau's plots, mapped to FIWARE's AgriParcel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ADMIN, DEMO_COUNTY, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN, AppClient, running_app,
)
from tests.exchange.conftest import County, organisation, staff
from tests.exchange.test_catalogue import DatasetPlugin
from tests.exchange.test_agreements import granted
from tulou.audit.models import AuditEntry
from tulou.plugins.registrations import DatasetSchema

EXAMPLES = Path(__file__).parents[2] / "standards" / "exchange" / "examples"
PLOTS = "agriculture.plots"
RECORDS = f"/api/v1/datasets/{PLOTS}/records/"
CONTEXT = ["https://smartdatamodels.org/context.jsonld", "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]
NGSI = {"format": "ngsi-ld"}


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def plot_record(key: str, area: str, **data: Any) -> dict[str, Any]:
    record = example("record-in.plot.json")
    return {**record, "id": key, "area": area, "data": {**record["data"], **data}}


@pytest.fixture
async def county(client: AppClient) -> County:
    """The bureau keeps the example plots dataset, mapped to AgriParcel, county-wide."""
    bureau = await organisation(client, "县农业农村局", "department", DEMO_COUNTY)
    yunxi = await organisation(client, "云溪镇人民政府", "township_government", YUNXI_TOWN)
    shimen = await organisation(client, "石门镇人民政府", "township_government", SHIMEN_TOWN)
    declared = await client.post("/api/v1/datasets/", headers=ADMIN, json={
        **example("dataset-in.agriculture-plots.json"), "owner": bureau, "manager": bureau, "area": DEMO_COUNTY})
    assert declared.status_code == 201, declared.text
    return County(
        client=client, bureau=bureau, yunxi=yunxi, shimen=shimen,
        keeper=await staff(client, "keeper", "township_admin", DEMO_COUNTY, bureau),
        yunxi_clerk=await staff(client, "yunxi_clerk", "township_staff", YUNXI_TOWN, yunxi),
        shimen_clerk=await staff(client, "shimen_clerk", "township_staff", SHIMEN_TOWN, shimen),
    )


async def write(county: County, key: str, area: str, **data: Any) -> None:
    made = await county.client.post(RECORDS, json=plot_record(key, area, **data), headers=county.keeper)
    assert made.status_code == 201, made.text


async def test_a_plot_reads_as_an_agri_parcel(county: County) -> None:
    await write(county, "SP-017", SHANGPING_VILLAGE)
    answer = await county.client.get(f"{RECORDS}SP-017", params=NGSI, headers=county.keeper)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/ld+json")
    assert answer.headers["etag"] == '"1"'
    parcel = answer.json()
    data = example("record-in.plot.json")["data"]
    created = parcel.pop("dateCreated")
    assert created.endswith("Z") and parcel.pop("dateModified") >= created
    assert parcel == {
        "id": "urn:ngsi-ld:AgriParcel:agriculture.plots:SP-017",
        "type": "AgriParcel",
        "name": data["name"],
        "hasAgriCrop": "urn:ngsi-ld:AgriCrop:rice",
        "area": 1667.5,
        "category": "arable",
        "cropStatus": "growing",
        "lastPlantedAt": "2026-05-12T08:00:00Z",
        "location": data["boundary"],
        "address": {"addressCountry": "CN", "addressRegion": "云溪县", "addressLocality": "云溪镇上坪村"},
        "areaServed": SHANGPING_VILLAGE,
        "@context": CONTEXT,
    }, "unmapped fields (household, irrigated) stay out"


async def test_lists_are_arrays_of_entities_paged_by_a_link(county: County) -> None:
    for number in range(3):
        await write(county, f"SP-{number}", SHANGPING_VILLAGE, crop="urn:ngsi-ld:AgriCrop:tea")
    await write(county, "NY-1", NANYANG_VILLAGE)
    gone = await county.client.delete(f"{RECORDS}SP-1", headers=county.keeper)
    assert gone.status_code == 204
    first = await county.client.get(RECORDS, params={**NGSI, "limit": 2, "include_deleted": "true"},
                                    headers=county.keeper)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/ld+json")
    assert [e["id"].rsplit(":", 1)[1] for e in first.json()] == ["SP-0"], "a tombstone has no entity"
    assert first.json()[0]["hasAgriCrop"] == "urn:ngsi-ld:AgriCrop:tea", "a URN is kept as it is"
    link = first.headers["link"]
    assert link.endswith('>; rel="next"') and "format=ngsi-ld" in link and "cursor=" in link
    following = await county.client.get(link[1:link.index(">")], headers=county.keeper)
    assert [e["id"].rsplit(":", 1)[1] for e in following.json()] == ["SP-2", "NY-1"]
    assert "link" not in following.headers
    filtered = await county.client.get(RECORDS, params={**NGSI, "area": NANYANG_VILLAGE}, headers=county.keeper)
    assert [e["areaServed"] for e in filtered.json()] == [NANYANG_VILLAGE]
    assert filtered.json()[0]["address"]["addressLocality"] == "石门镇南阳村"


async def test_a_grantee_gets_only_the_agreed_fields_as_attributes(county: County) -> None:
    """The issue's story: township B asks for three fields in its villages; FIWARE tools see just those."""
    await write(county, "SP-017", SHANGPING_VILLAGE)
    await write(county, "NY-1", NANYANG_VILLAGE)
    await granted(county, county.shimen_clerk, county.shimen, ["crop", "area_m2", "boundary"], [SHIMEN_TOWN])
    listed = await county.client.get(RECORDS, params=NGSI, headers=county.shimen_clerk)
    assert listed.status_code == 200, listed.text
    [parcel] = listed.json()
    assert parcel["id"] == "urn:ngsi-ld:AgriParcel:agriculture.plots:NY-1"
    mapped = set(parcel) - {"id", "type", "@context", "address", "areaServed", "dateCreated", "dateModified"}
    assert mapped == {"hasAgriCrop", "area", "location"}
    single = await county.client.get(f"{RECORDS}NY-1", params=NGSI, headers=county.shimen_clerk)
    assert single.json() == parcel
    hidden = await county.client.get(f"{RECORDS}SP-017", params=NGSI, headers=county.shimen_clerk)
    assert hidden.status_code == 404
    reads = await AuditEntry.filter(action="exchange.read").order_by("id")
    assert [entry.detail["count"] for entry in reads] == [1, 1], "NGSI-LD reads are audited like any other"


async def test_ngsi_ld_needs_a_declared_model(county: County) -> None:
    bare = {"id": "community.notices", "title": {"zh_CN": "通知"}, "classification": "public",
            "schema": {"type": "object", "properties": {"text": {"type": "string"}}},
            "owner": county.bureau, "manager": county.bureau, "area": DEMO_COUNTY}
    assert (await county.client.post("/api/v1/datasets/", json=bare, headers=ADMIN)).status_code == 201
    refused = await county.client.get("/api/v1/datasets/community.notices/records/", params=NGSI, headers=ADMIN)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "format"
    assert await AuditEntry.filter(action="exchange.read").count() == 0
    unknown = await county.client.get(RECORDS, params={"format": "xml"}, headers=ADMIN)
    assert unknown.status_code == 400


@pytest.mark.parametrize(("change", "field"), [
    ({"field_map": {"acreage": "area"}}, "field_map.acreage"),
    ({"field_map": {"name": "name", "household": "name"}}, "field_map.household"),
    ({"field_map": {"name": "id"}}, "field_map.name"),
    ({"smart_data_model": None}, "field_map"),
])
async def test_declared_mappings_are_checked(client: AppClient, change: dict[str, Any], field: str) -> None:
    body = {**example("dataset-in.agriculture-plots.json"), **change}
    refused = await client.post("/api/v1/datasets/", json=body, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == field


async def test_publishing_sets_keeps_or_drops_the_mapping(county: County) -> None:
    url = f"/api/v1/datasets/{PLOTS}"
    keepers = {"owner": county.bureau, "manager": county.bureau, "area": DEMO_COUNTY}
    kept = await county.client.put(url, json=keepers, headers=ADMIN)
    assert kept.json()["smart_data_model"] == "AgriParcel" and kept.json()["field_map"]["area_m2"] == "area"
    narrowed = await county.client.put(url, json={**keepers, "field_map": {"name": "name"}}, headers=ADMIN)
    assert narrowed.json()["field_map"] == {"name": "name"}
    wrong = await county.client.put(url, json={**keepers, "field_map": {"nom": "name"}}, headers=ADMIN)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "field_map.nom"
    dropped = await county.client.put(url, json={**keepers, "smart_data_model": None}, headers=ADMIN)
    assert (dropped.json()["smart_data_model"], dropped.json()["field_map"]) == (None, {})


def test_plugins_declare_their_mapping_checked_against_their_schema() -> None:
    dataset = example("dataset-in.agriculture-plots.json")
    made = DatasetSchema(id=PLOTS, version="1.0", title="plots", schema=dataset["schema"],
                         smart_data_model="AgriParcel", field_map=dataset["field_map"])
    assert made.field_map["area_m2"] == "area"
    with pytest.raises(ValueError, match="field_map.acreage"):
        DatasetSchema(id=PLOTS, version="1.0", title="plots", schema=dataset["schema"],
                      smart_data_model="AgriParcel", field_map={"acreage": "area"})
    with pytest.raises(ValueError, match="smart_data_model"):
        DatasetSchema(id=PLOTS, version="1.0", title="plots", schema=dataset["schema"], smart_data_model="agri parcel")


async def test_a_plugins_mapping_enters_the_catalogue_and_the_county_may_change_it(make_app: Any) -> None:
    dataset = example("dataset-in.agriculture-plots.json")
    mapped = DatasetSchema(PLOTS, "1.0", "plots", dataset["schema"], smart_data_model="AgriParcel",
                           field_map={"name": "name", "boundary": "location"})
    async with running_app(make_app(plugins=[DatasetPlugin([mapped])])) as client:
        listed = (await client.get(f"/api/v1/datasets/{PLOTS}", headers=ADMIN)).json()
        assert listed["smart_data_model"] == "AgriParcel"
        assert listed["field_map"] == {"name": "name", "boundary": "location"}
        bureau = await organisation(client, "县农业农村局", "department", DEMO_COUNTY)
        published = await client.put(f"/api/v1/datasets/{PLOTS}", headers=ADMIN, json={
            "owner": bureau, "manager": bureau, "area": DEMO_COUNTY, "field_map": {"name": "name"}})
        assert published.json()["field_map"] == {"name": "name"}
    unmapped = DatasetSchema(PLOTS, "1.0", "plots", dataset["schema"])
    async with running_app(make_app(plugins=[DatasetPlugin([unmapped])])) as client:
        kept = (await client.get(f"/api/v1/datasets/{PLOTS}", headers=ADMIN)).json()
        assert kept["field_map"] == {"name": "name"}, "a plugin without a mapping leaves the county's"
    async with running_app(make_app(plugins=[DatasetPlugin([mapped])])) as client:
        restored = (await client.get(f"/api/v1/datasets/{PLOTS}", headers=ADMIN)).json()
        assert restored["field_map"] == {"name": "name", "boundary": "location"}, "the plugin's own mapping wins"
