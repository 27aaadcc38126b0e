"""Sharing agreements: every read path shows a grantee exactly the agreed fields in the agreed areas, and nothing once it ends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.conftest import ADMIN, DEMO_COUNTY, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN
from tests.exchange.conftest import PLOTS, County, declare, plot
from tulou.audit.models import AuditEntry
from tulou.exchange.models import Agreement

AGREEMENTS = "/api/v1/agreements/"
RECORDS = f"/api/v1/datasets/{PLOTS}/records/"
CHANGES = f"/api/v1/datasets/{PLOTS}/changes"
YANGBEI_VILLAGE = "350899101202"
GAOLING_VILLAGE = "350899101203"
PURPOSE = "核对耕地地力保护补贴面积"


def in_days(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


async def ask(county: County, headers: dict[str, str], organisation: int, fields: list[str], areas: list[str],
              purpose: str = PURPOSE, dataset: str = PLOTS, days: int = 30) -> Any:
    return await county.client.post(AGREEMENTS, json={
        "dataset": dataset, "organisation": organisation, "fields": fields, "areas": areas, "purpose": purpose,
        "expires_at": in_days(days),
    }, headers=headers)


async def granted(county: County, headers: dict[str, str], organisation: int, fields: list[str], areas: list[str],
                  narrowed: dict[str, Any] | None = None, purpose: str = PURPOSE) -> int:
    """An agreement requested by ``headers`` for ``organisation`` and approved by the bureau, possibly narrowed."""
    asked = await ask(county, headers, organisation, fields, areas, purpose)
    assert asked.status_code == 201, asked.text
    approved = await county.client.post(f"{AGREEMENTS}{asked.json()['id']}/approve", json=narrowed or {}, headers=county.keeper)
    assert approved.status_code == 200, approved.text
    return asked.json()["id"]


async def shimen_plots(county: County) -> None:
    await county.write("yunxi-1", SHANGPING_VILLAGE, plot("east", "tea", 1, household="H1"))
    await county.write("nanyang-1", NANYANG_VILLAGE, plot("south", "rice", 2, household="H2", irrigated=True))
    await county.write("yangbei-1", YANGBEI_VILLAGE, plot("west", "rice", 3, household="H3"))
    await county.write("gaoling-1", GAOLING_VILLAGE, plot("north", "maize", 4, household="H4"))


async def every_read_path(county: County, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What a caller sees of each record through the list, the single reads and the change feed, checked to agree."""
    client = county.client
    listed = await client.get(RECORDS, headers=headers)
    assert listed.status_code == 200, listed.text
    from_list = {item["id"]: item["data"] for item in listed.json()["items"]}
    for key, data in from_list.items():
        single = await client.get(f"{RECORDS}{key}", headers=headers)
        assert single.status_code == 200 and single.json()["data"] == data
    feed = await client.get(CHANGES, headers=headers)
    assert feed.status_code == 200, feed.text
    from_feed = {change["id"]: change["data"] for change in feed.json()["changes"]}
    assert from_feed == from_list
    areas = {item["id"]: item["area"] for item in listed.json()["items"]}
    return {key: {"area": areas[key], "data": data} for key, data in from_list.items()}


async def test_two_organisations_see_exactly_their_narrowed_agreements(county: County) -> None:
    await shimen_plots(county)
    shimen = await granted(county, county.shimen_clerk, county.shimen, ["crop", "area_mu", "household"], [SHIMEN_TOWN],
                           {"fields": ["crop", "area_mu"], "areas": [NANYANG_VILLAGE, YANGBEI_VILLAGE], "note": "只限两村"})
    await granted(county, county.yunxi_clerk, county.yunxi, ["name"], [YUNXI_TOWN], purpose="村道规划")
    agreement = (await county.client.get(f"{AGREEMENTS}{shimen}", headers=county.shimen_clerk)).json()
    assert agreement["fields_granted"] == ["area_mu", "crop"] and agreement["fields_requested"] == ["area_mu", "crop", "household"]
    assert agreement["areas_granted"] == [NANYANG_VILLAGE, YANGBEI_VILLAGE] and agreement["active"] is True

    assert await every_read_path(county, county.shimen_clerk) == {
        "nanyang-1": {"area": NANYANG_VILLAGE, "data": {"crop": "rice", "area_mu": 2}},
        "yangbei-1": {"area": YANGBEI_VILLAGE, "data": {"crop": "rice", "area_mu": 3}},
    }
    assert await every_read_path(county, county.yunxi_clerk) == {"yunxi-1": {"area": SHANGPING_VILLAGE, "data": {"name": "east"}}}
    for hidden in ("gaoling-1", "yunxi-1"):
        assert (await county.client.get(f"{RECORDS}{hidden}", headers=county.shimen_clerk)).status_code == 404
    filtered = await county.client.get(RECORDS, params={"filter[household]": "H2"}, headers=county.shimen_clerk)
    assert filtered.json()["items"] == []  # no filtering on a field the agreement does not show
    everything = await every_read_path(county, county.keeper)
    assert everything["gaoling-1"]["data"] == plot("north", "maize", 4, household="H4")


async def test_several_agreements_show_a_field_only_where_one_grants_it(county: County) -> None:
    await shimen_plots(county)
    await granted(county, county.shimen_clerk, county.shimen, ["crop"], [SHIMEN_TOWN])
    await granted(county, county.shimen_clerk, county.shimen, ["name"], [NANYANG_VILLAGE], purpose="道路")
    seen = await every_read_path(county, county.shimen_clerk)
    assert {key: value["data"] for key, value in seen.items()} == {
        "nanyang-1": {"crop": "rice", "name": "south"},
        "yangbei-1": {"crop": "rice"},
        "gaoling-1": {"crop": "maize"},
    }
    named = await county.client.get(RECORDS, params={"filter[name]": "west"}, headers=county.shimen_clerk)
    assert named.json()["items"] == []  # yangbei-1 is named "west", but its name is not shared
    named = await county.client.get(RECORDS, params={"filter[name]": "south"}, headers=county.shimen_clerk)
    assert [item["id"] for item in named.json()["items"]] == ["nanyang-1"]


async def test_nothing_after_expiry_or_revocation(county: County) -> None:
    await shimen_plots(county)
    agreement = await granted(county, county.shimen_clerk, county.shimen, ["crop"], [SHIMEN_TOWN])
    assert len(await every_read_path(county, county.shimen_clerk)) == 3
    await Agreement.filter(id=agreement).update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    for path in (RECORDS, f"{RECORDS}nanyang-1", CHANGES):
        assert (await county.client.get(path, headers=county.shimen_clerk)).status_code == 403, path
    listed = await county.client.get(f"{AGREEMENTS}{agreement}", headers=county.shimen_clerk)
    assert listed.json()["status"] == "approved" and listed.json()["active"] is False

    second = await granted(county, county.shimen_clerk, county.shimen, ["crop"], [SHIMEN_TOWN])
    assert len(await every_read_path(county, county.shimen_clerk)) == 3
    revoked = await county.client.post(f"{AGREEMENTS}{second}/revoke", json={"note": "补贴核对已结束"}, headers=county.keeper)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked" and revoked.json()["revoked_by"]
    for path in (RECORDS, f"{RECORDS}nanyang-1", CHANGES):
        assert (await county.client.get(path, headers=county.shimen_clerk)).status_code == 403, path
    again = await county.client.post(f"{AGREEMENTS}{second}/revoke", json={}, headers=county.keeper)
    assert again.status_code == 409


async def test_each_shared_read_is_audited_once_with_its_purpose(county: County) -> None:
    await shimen_plots(county)
    await granted(county, county.shimen_clerk, county.shimen, ["crop"], [SHIMEN_TOWN])
    await county.client.get(RECORDS, headers=county.keeper)  # full access: not a shared read
    await county.client.get(RECORDS, headers=county.shimen_clerk)
    await county.client.get(f"{RECORDS}nanyang-1", headers=county.shimen_clerk)
    await county.client.get(CHANGES, headers=county.shimen_clerk)
    await county.client.get(CHANGES, params={"after": "999"}, headers=county.shimen_clerk)  # nothing new: nothing read
    reads = await AuditEntry.filter(action="exchange.read").order_by("id")
    assert [entry.detail["path"] for entry in reads] == [RECORDS.rstrip("/"), f"{RECORDS}nanyang-1", CHANGES]
    assert [entry.detail["count"] for entry in reads] == [3, 1, 3]
    assert {entry.purpose for entry in reads} == {PURPOSE}
    assert all(entry.actor.startswith("account:") and entry.detail["dataset"] == PLOTS for entry in reads)
    steps = await AuditEntry.filter(action__startswith="agreement.").values_list("action", "purpose")
    assert steps == [("agreement.requested", PURPOSE), ("agreement.approved", PURPOSE)]


async def test_requests_are_checked(county: County) -> None:
    clerk, shimen = county.shimen_clerk, county.shimen
    assert (await ask(county, clerk, county.yunxi, ["crop"], [SHIMEN_TOWN])).status_code == 403  # not its organisation
    other_township = await ask(county, clerk, county.yunxi, ["crop"], [SHIMEN_TOWN], dataset="water.wells")
    assert other_township.status_code == 404  # a dataset it may not ask for is unknown, whoever it names as grantee
    unknown_field = await ask(county, clerk, shimen, ["crop", "price"], [SHIMEN_TOWN])
    assert unknown_field.status_code == 422 and unknown_field.json()["errors"][0]["field"] == "fields"
    assert (await ask(county, clerk, shimen, ["crop"], [YUNXI_TOWN])).status_code == 404  # outside the clerk's areas
    assert (await ask(county, clerk, shimen, ["crop"], ["350899101299"])).status_code == 422
    assert (await ask(county, clerk, shimen, ["crop"], [SHIMEN_TOWN], days=-1)).status_code == 422
    assert (await ask(county, clerk, shimen, ["crop"], [SHIMEN_TOWN], dataset="water.wells")).status_code == 404
    assert (await ask(county, clerk, shimen, ["crop"], [SHIMEN_TOWN])).status_code == 201


async def test_decisions_never_widen_and_only_keepers_decide(county: County) -> None:
    asked = await ask(county, county.shimen_clerk, county.shimen, ["crop", "area_mu"], [NANYANG_VILLAGE])
    agreement = asked.json()["id"]
    approve = f"{AGREEMENTS}{agreement}/approve"
    for wider in ({"fields": ["crop", "name"]}, {"fields": []}, {"areas": [SHIMEN_TOWN]}, {"areas": [YANGBEI_VILLAGE]}):
        response = await county.client.post(approve, json=wider, headers=county.keeper)
        assert response.status_code == 422, wider
    assert (await county.client.post(approve, json={}, headers=county.shimen_clerk)).status_code == 403  # lacks agreement:decide
    assert (await county.client.get(f"{AGREEMENTS}{agreement}", headers=county.yunxi_clerk)).status_code == 404
    rejected = await county.client.post(f"{AGREEMENTS}{agreement}/reject", json={"note": "用途不明"}, headers=county.keeper)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert (await county.client.post(approve, json={}, headers=county.keeper)).status_code == 409
    assert (await county.client.get(RECORDS, headers=county.shimen_clerk)).status_code == 403


async def test_each_side_lists_its_agreements(county: County) -> None:
    shimen = (await ask(county, county.shimen_clerk, county.shimen, ["crop"], [SHIMEN_TOWN])).json()["id"]
    yunxi = (await ask(county, county.yunxi_clerk, county.yunxi, ["crop"], [YUNXI_TOWN])).json()["id"]

    async def ids(headers: dict[str, str], **params: str) -> list[int]:
        response = await county.client.get(AGREEMENTS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [agreement["id"] for agreement in response.json()]

    assert await ids(county.shimen_clerk) == [shimen]
    assert await ids(county.shimen_clerk, side="keeper") == []
    assert await ids(county.keeper, side="keeper") == [yunxi, shimen]
    assert await ids(county.keeper, side="grantee") == []
    assert await ids(ADMIN) == [yunxi, shimen]
    assert await ids(county.keeper, status="approved") == []
    assert await ids(county.keeper, dataset="water.wells") == []


async def test_sensitive_datasets_show_only_to_keepers_and_requesters(county: County) -> None:
    await declare(county.client, "civil.subsidies", classification="sensitive", owner=county.bureau, manager=county.bureau,
                  area=DEMO_COUNTY)

    async def catalogue(headers: dict[str, str]) -> list[str]:
        return [dataset["id"] for dataset in (await county.client.get("/api/v1/datasets/", headers=headers)).json()]

    assert await catalogue(county.shimen_clerk) == [PLOTS]
    assert await catalogue(county.keeper) == [PLOTS, "civil.subsidies"]
    assert (await county.client.get("/api/v1/datasets/civil.subsidies", headers=county.shimen_clerk)).status_code == 404
    assert (await ask(county, county.shimen_clerk, county.shimen, ["crop"], [SHIMEN_TOWN], dataset="civil.subsidies")).status_code == 201
    assert await catalogue(county.shimen_clerk) == [PLOTS, "civil.subsidies"]
    assert await catalogue(county.yunxi_clerk) == [PLOTS]
