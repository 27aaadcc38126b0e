"""``/api/v1/areas`` and importing areas."""

from __future__ import annotations

from typing import Any

from tests.conftest import DEMO_COUNTY, SHANGPING_VILLAGE, YUNXI_TOWN
from tulou.areas.importer import import_areas
from tulou.areas.models import Area


async def test_demo_county_is_listed_flat_with_levels(serve: Any) -> None:
    async with serve() as client:
        response = await client.get("/api/v1/areas")
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 16
    levels = [item["level"] for item in page["items"]]
    assert levels.count("county") == 1 and levels.count("township") == 3 and levels.count("village") == 12
    village = next(item for item in page["items"] if item["code"] == SHANGPING_VILLAGE)
    assert village == {
        "code": SHANGPING_VILLAGE, "name": "上坪村", "name_en": "Shangping Village", "level": "village", "parent": YUNXI_TOWN,
    }


async def test_tree_nests_villages_under_townships(serve: Any) -> None:
    async with serve() as client:
        tree = (await client.get("/api/v1/areas", params={"format": "tree"})).json()
    assert [root["code"] for root in tree] == [DEMO_COUNTY]
    townships = tree[0]["children"]
    assert len(townships) == 3
    assert all(len(t["children"]) == 4 for t in townships)


async def test_filters_by_parent_level_and_subtree_and_pages(serve: Any) -> None:
    async with serve() as client:
        children = (await client.get("/api/v1/areas", params={"parent": YUNXI_TOWN})).json()
        townships = (await client.get("/api/v1/areas", params={"level": "township"})).json()
        subtree = (await client.get("/api/v1/areas", params={"within": YUNXI_TOWN})).json()
        page = (await client.get("/api/v1/areas", params={"limit": 5, "offset": 5})).json()
        clamped = (await client.get("/api/v1/areas", params={"limit": 100000})).json()
    assert {a["parent"] for a in children["items"]} == {YUNXI_TOWN} and children["total"] == 4
    assert townships["total"] == 3
    assert subtree["total"] == 5
    assert len(page["items"]) == 5 and page["offset"] == 5 and page["total"] == 16
    assert clamped["limit"] == 1000


async def test_one_area_with_ancestors_and_children(serve: Any) -> None:
    async with serve() as client:
        area = (await client.get(f"/api/v1/areas/{SHANGPING_VILLAGE}")).json()
    assert [a["code"] for a in area["ancestors"]] == [DEMO_COUNTY, YUNXI_TOWN]
    assert area["children"] == []


async def test_bad_and_unknown_codes_get_problems_naming_the_field(serve: Any) -> None:
    async with serve() as client:
        bad = await client.get("/api/v1/areas/12345")
        unknown = await client.get("/api/v1/areas/350899109999")
        bad_level = await client.get("/api/v1/areas", params={"level": "galaxy"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "code"
    assert unknown.status_code == 404 and unknown.json()["status"] == 404
    assert bad_level.status_code == 400 and bad_level.json()["errors"][0]["field"] == "level"


async def test_import_with_a_bad_row_writes_nothing_and_names_each_line(serve: Any) -> None:
    text = (
        "code,name,name_en\n"
        "350899102000,新城镇,Xincheng Town\n"
        "35089910200X,坏代码,\n"
        "350899102201,,\n"
        "350899777201,无上级村,\n"
        "350899102000,重复,\n"
    )
    async with serve() as client:
        platform = client.app.state.platform
        result = await import_areas(platform, text, actor="test")
        count = await Area.all().count()
    assert count == 16
    lines = [error.split(":")[0] for error in result.errors]
    assert len(result.errors) == 4
    assert all(str(n) in " ".join(lines) for n in (3, 4, 5, 6))


async def test_import_creates_and_updates_in_order(serve: Any) -> None:
    text = "code,name\n350899102201,新村\n350899102000,新城镇\n350899100201,上坪村（新）\n"
    async with serve() as client:
        result = await import_areas(client.app.state.platform, text, actor="test")
        new_village = await Area.get(code="350899102201")
        renamed = await Area.get(code=SHANGPING_VILLAGE)
    assert (result.created, result.updated, result.errors) == (2, 1, [])
    assert new_village.parent_id == "350899102000"
    assert renamed.name == "上坪村（新）"


async def test_import_without_required_columns_is_rejected(serve: Any) -> None:
    async with serve() as client:
        result = await import_areas(client.app.state.platform, "id,title\n1,x\n", actor="test")
    assert result.errors and "code" in result.errors[0]
