"""Records over HTTP: validated writes, ETags and If-Match, tombstones, filters, cursors and area scope."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN
from tests.exchange.conftest import PLOTS, County, plot, staff

RECORDS = f"/api/v1/datasets/{PLOTS}/records/"
ZHULIN_VILLAGE = "350899100202"


def record(key: str) -> str:
    return f"{RECORDS}{key}"


async def test_a_record_is_created_read_replaced_patched_and_deleted(county: County) -> None:
    client, keeper = county.client, county.keeper
    made = await client.post(RECORDS, json={"id": "p1", "area": SHANGPING_VILLAGE, "data": plot("east field")}, headers=keeper)
    assert made.status_code == 201 and made.headers["etag"] == '"1"'
    assert made.json()["dataset_version"] == "1.0" and made.json()["data"]["name"] == "east field"
    got = await client.get(record("p1"), headers=keeper)
    assert got.headers["etag"] == '"1"' and got.json()["data"] == plot("east field")
    replaced = await client.put(record("p1"), json={"data": plot("east field", "maize")}, headers={**keeper, "If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced.headers["etag"] == '"2"'
    patched = await client.patch(record("p1"), json={"data": {"irrigated": True, "crop": None}}, headers=keeper)
    assert patched.status_code == 422 and patched.json()["errors"][0]["path"] == "$.crop"  # crop is required
    patched = await client.patch(record("p1"), json={"data": {"irrigated": True, "soil": {"ph": 6.5}}}, headers=keeper)
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"] == {**plot("east field", "maize"), "irrigated": True, "soil": {"ph": 6.5}}
    assert patched.json()["version"] == 3
    deleted = await client.delete(record("p1"), headers={**keeper, "If-Match": '"3"'})
    assert deleted.status_code == 204
    assert (await client.get(record("p1"), headers=keeper)).status_code == 404
    tombstones = await client.get(RECORDS, params={"include_deleted": "true"}, headers=keeper)
    [tombstone] = tombstones.json()["items"]
    assert tombstone["deleted"] is True and tombstone["data"] == {} and tombstone["version"] == 4
    revived = await client.post(RECORDS, json={"id": "p1", "area": ZHULIN_VILLAGE, "data": plot("west field")}, headers=keeper)
    assert revived.status_code == 201 and revived.json()["version"] == 5 and revived.json()["area"] == ZHULIN_VILLAGE


async def test_generated_ids_and_duplicates(county: County) -> None:
    made = await county.client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": plot("a")}, headers=county.keeper)
    assert made.status_code == 201 and len(made.json()["id"]) == 32
    await county.write("p1", SHANGPING_VILLAGE, plot("b"))
    again = await county.client.post(RECORDS, json={"id": "p1", "area": SHANGPING_VILLAGE, "data": plot("c")}, headers=county.keeper)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "id"
    bad_key = await county.client.post(RECORDS, json={"id": "no spaces", "area": SHANGPING_VILLAGE, "data": plot("c")}, headers=county.keeper)
    assert bad_key.status_code == 400


async def test_a_stale_write_gets_412(county: County) -> None:
    client, keeper = county.client, county.keeper
    await county.write("p1", SHANGPING_VILLAGE, plot("east field"))
    first = await client.put(record("p1"), json={"data": plot("east field", "tea")}, headers={**keeper, "If-Match": '"1"'})
    assert first.status_code == 200
    for method, body in (("PUT", {"data": plot("x")}), ("PATCH", {"data": {"crop": "x"}}), ("DELETE", None)):
        stale = await client.request(method, record("p1"), json=body, headers={**keeper, "If-Match": '"1"'})
        assert stale.status_code == 412, (method, stale.text)
        assert stale.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(record("p1"), headers=keeper)).json()["data"]["crop"] == "tea"
    assert (await client.put(record("p1"), json={"data": plot("y")}, headers={**keeper, "If-Match": "*"})).status_code == 200
    weak = await client.put(record("p1"), json={"data": plot("z")}, headers={**keeper, "If-Match": 'W/"3"'})
    assert weak.status_code == 412  # If-Match compares strongly
    unconditional = await client.put(record("p1"), json={"data": plot("z")}, headers=keeper)
    assert unconditional.status_code == 200 and unconditional.headers["etag"] == '"4"'  # without If-Match the last writer wins


async def test_a_bad_record_gets_every_error_with_its_path(county: County) -> None:
    data = {"name": "", "area_mu": -1, "soil": {"ph": "acid"}, "colour": "red"}
    response = await county.client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": data}, headers=county.keeper)
    assert response.status_code == 422
    body = response.json()
    paths = sorted(error["path"] for error in body["errors"])
    assert paths == ["$.area_mu", "$.colour", "$.crop", "$.name", "$.soil.ph"]
    assert all(error["message"] for error in body["errors"])
    assert body["errors"][0]["field"] == body["errors"][0]["path"]


async def test_the_area_is_a_checked_envelope(county: County) -> None:
    client, keeper = county.client, county.keeper

    async def create(area: str, headers: dict[str, str] = keeper) -> Any:
        return await client.post(RECORDS, json={"area": area, "data": plot("f")}, headers=headers)

    assert (await create(YUNXI_TOWN)).status_code == 201  # townships may hold records too
    county_wide = await create("350899000000")
    assert county_wide.status_code == 422 and county_wide.json()["errors"][0]["field"] == "area"
    assert (await create("350899109999")).status_code == 422  # no such village
    assert (await create("350900000201")).status_code == 404  # outside the keeper's areas
    await county.write("p1", SHANGPING_VILLAGE, plot("east field"))
    moved = await client.put(record("p1"), json={"area": ZHULIN_VILLAGE, "data": plot("east field")}, headers=keeper)
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "area"
    same = await client.put(record("p1"), json={"area": SHANGPING_VILLAGE, "data": plot("east field")}, headers=keeper)
    assert same.status_code == 200


async def test_only_keepers_write_and_scope_hides_the_rest(county: County) -> None:
    client = county.client
    await county.write("p1", SHANGPING_VILLAGE, plot("east field"))
    await county.write("p2", NANYANG_VILLAGE, plot("south field"))
    clerk = county.yunxi_clerk  # record:write in Yunxi, but not a member of the bureau
    create = await client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": plot("f")}, headers=clerk)
    assert create.status_code == 403
    assert (await client.put(record("p1"), json={"data": plot("f")}, headers=clerk)).status_code == 403
    assert (await client.put(record("p2"), json={"data": plot("f")}, headers=clerk)).status_code == 404  # Shimen's
    assert (await client.get(RECORDS, headers=clerk)).status_code == 403  # sees the dataset, may read none of it
    bureau_clerk = await staff(client, "bureau_yunxi", "township_staff", YUNXI_TOWN, county.bureau)
    assert (await client.put(record("p1"), json={"data": plot("f")}, headers=bureau_clerk)).status_code == 200
    assert (await client.get(record("p2"), headers=bureau_clerk)).status_code == 404
    listed = await client.get(RECORDS, headers=bureau_clerk)
    assert [item["id"] for item in listed.json()["items"]] == ["p1"]
    unknown = await client.get("/api/v1/datasets/agriculture.nothing/records/", headers=county.keeper)
    assert unknown.status_code == 404


async def test_writing_needs_a_published_dataset(county: County) -> None:
    draft = {"id": "water.wells", "title": {"zh_CN": "水井"}, "classification": "internal",
             "schema": {"type": "object", "properties": {"depth_m": {"type": "number"}}}}
    assert (await county.client.post("/api/v1/datasets/", json=draft, headers=ADMIN)).status_code == 201
    response = await county.client.post("/api/v1/datasets/water.wells/records/", json={"area": SHANGPING_VILLAGE, "data": {}},
                                        headers=ADMIN)
    assert response.status_code == 409
    hidden = await county.client.post("/api/v1/datasets/water.wells/records/", json={"area": SHANGPING_VILLAGE, "data": {}},
                                      headers=county.keeper)
    assert hidden.status_code == 404  # drafts are the county's business


async def test_lists_filter_on_fields_and_areas_and_page_with_a_cursor(county: County) -> None:
    client, keeper = county.client, county.keeper
    rows = [("a", SHANGPING_VILLAGE, plot("a", "rice", 1, irrigated=True)),
            ("b", SHANGPING_VILLAGE, plot("b", "tea", 2.0, irrigated=False)),
            ("c", NANYANG_VILLAGE, plot("c", "rice", 3, irrigated=True)),
            ("d", ZHULIN_VILLAGE, plot("d", "rice", 2, irrigated=False)),
            ("e", NANYANG_VILLAGE, plot("e", "maize", 2))]
    for key, area, data in rows:
        await county.write(key, area, data)

    async def keys(**params: Any) -> list[str]:
        response = await client.get(RECORDS, params=params, headers=keeper)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await keys(**{"filter[crop]": "rice"}) == ["a", "c", "d"]
    assert await keys(**{"filter[crop]": "rice", "filter[irrigated]": "true"}) == ["a", "c"]
    assert await keys(**{"filter[area_mu]": "2"}) == ["b", "d", "e"]  # 2 finds 2.0
    assert await keys(**{"filter[crop]": "rice", "area": YUNXI_TOWN}) == ["a", "d"]
    assert await keys(area=SHIMEN_TOWN) == ["c", "e"]
    assert await keys(area=MEILIN_TOWNSHIP) == []
    for bad in ({"filter[soil]": "x"}, {"filter[colour]": "red"}, {"filter[area_mu]": "much"},
                {"filter[irrigated]": "yes"}, {"filter": "x"}, {"cursor": "abc"}):
        response = await client.get(RECORDS, params=bad, headers=keeper)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["errors"][0]["field"] == next(iter(bad))
    seen, cursor = [], None
    while True:
        page = (await client.get(RECORDS, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=keeper)).json()
        seen.append([item["id"] for item in page["items"]])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [["a", "b"], ["c", "d"], ["e"]]
