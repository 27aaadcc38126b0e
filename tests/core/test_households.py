"""Households over HTTP: village scope, unique numbers, membership rules, the head and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.connection import ASGIConnection

from tests.conftest import ADMIN, NANYANG_VILLAGE, SHANGPING_VILLAGE, YUNXI_TOWN
from tests.core.test_people import bearer, person
from tulou.audit.models import AuditEntry
from tulou.audit.service import verify_chain
from tulou.identity.models import Household, Person
from tulou.security.authenticators import bearer_token
from tulou.security.principal import Principal

HOUSEHOLDS = "/api/v1/households"
PEOPLE = "/api/v1/people"
ZHULIN_VILLAGE = "350899100202"  # Yunxi, next to Shangping
YUNXI_CLERK = bearer("yunxi-clerk")


async def yunxi_clerk(connection: ASGIConnection) -> Principal | None:
    if bearer_token(connection) != "yunxi-clerk":
        return None
    return Principal(
        id="yunxi-clerk", display_name="云溪镇户籍员",
        permissions=frozenset({"household:read", "household:write"}), area_roots=(YUNXI_TOWN,),
    )


@pytest.fixture
async def client(serve: Any) -> Any:
    async with serve() as test_client:
        test_client.app.state.platform.authenticators.append(yunxi_clerk)
        yield test_client


async def resident(client: Any, serial: int, village: str = SHANGPING_VILLAGE) -> int:
    response = await client.post(PEOPLE + "/", json=person(serial, village=village), headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def household(client: Any, number: str, village: str = SHANGPING_VILLAGE, headers: Any = ADMIN) -> dict[str, Any]:
    response = await client.post(HOUSEHOLDS + "/", json={"number": number, "village": village, "address": "上坪路1号"}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def add(client: Any, household_id: int, person_id: int, headers: Any = YUNXI_CLERK) -> Any:
    return await client.post(f"{HOUSEHOLDS}/{household_id}/members", json={"person": person_id}, headers=headers)


def problem_field(response: Any) -> str:
    return response.json()["errors"][0]["field"]


async def test_households_are_created_listed_and_read_within_scope(client: Any) -> None:
    first = await household(client, "0002", headers=YUNXI_CLERK)
    second = await household(client, "0001", headers=YUNXI_CLERK)
    await household(client, "0001", village=ZHULIN_VILLAGE, headers=YUNXI_CLERK)
    listed = await client.get(HOUSEHOLDS + "/", params={"village": SHANGPING_VILLAGE, "limit": 100000}, headers=YUNXI_CLERK)
    read = await client.get(f"{HOUSEHOLDS}/{first['id']}", headers=YUNXI_CLERK)
    body = listed.json()
    assert [h["number"] for h in body["items"]] == ["0001", "0002"] and body["total"] == 2 and body["limit"] == 200
    assert read.status_code == 200 and read.json() == first
    assert first["village"] == SHANGPING_VILLAGE and first["head"] is None and first["members"] == []
    assert second["address"] == "上坪路1号"


async def test_another_townships_households_are_not_found(client: Any) -> None:
    theirs = await household(client, "0001", village=NANYANG_VILLAGE)
    neighbour = await resident(client, 1, village=NANYANG_VILLAGE)
    path = f"{HOUSEHOLDS}/{theirs['id']}"
    responses = [
        await client.get(path, headers=YUNXI_CLERK),
        await add(client, theirs["id"], neighbour),
        await client.put(f"{path}/head", json={"person": neighbour}, headers=YUNXI_CLERK),
        await client.get(HOUSEHOLDS + "/", params={"village": NANYANG_VILLAGE}, headers=YUNXI_CLERK),
        await client.post(HOUSEHOLDS + "/", json={"number": "0002", "village": NANYANG_VILLAGE}, headers=YUNXI_CLERK),
    ]
    assert [r.status_code for r in responses] == [404] * 5
    assert await Person.filter(household_id__not_isnull=True).count() == 0
    assert await Household.all().count() == 1


async def test_a_household_needs_a_village_and_a_number_unique_in_it(client: Any) -> None:
    await household(client, "0001")
    duplicate = await client.post(HOUSEHOLDS + "/", json={"number": " 0001 ", "village": SHANGPING_VILLAGE}, headers=ADMIN)
    township = await client.post(HOUSEHOLDS + "/", json={"number": "0002", "village": YUNXI_TOWN}, headers=ADMIN)
    blank = await client.post(HOUSEHOLDS + "/", json={"number": "  ", "village": SHANGPING_VILLAGE}, headers=ADMIN)
    assert (duplicate.status_code, problem_field(duplicate)) == (409, "number")
    assert (township.status_code, problem_field(township)) == (422, "village")
    assert (blank.status_code, problem_field(blank)) == (422, "number")
    assert await Household.all().count() == 1


async def test_members_must_live_in_the_village_and_belong_to_one_household(client: Any) -> None:
    home, other = await household(client, "0001"), await household(client, "0002")
    villager, from_zhulin, from_shimen = await resident(client, 1), await resident(client, 2, ZHULIN_VILLAGE), await resident(client, 3, NANYANG_VILLAGE)
    added = await add(client, home["id"], villager)
    again = await add(client, home["id"], villager)
    elsewhere = await add(client, other["id"], villager)
    wrong_village = await add(client, home["id"], from_zhulin)
    out_of_scope = await add(client, home["id"], from_shimen)
    assert added.status_code == 200 and added.json()["members"] == [{"id": villager, "name": "林1"}]
    assert again.status_code == 200 and again.json()["members"] == added.json()["members"]
    assert (elsewhere.status_code, problem_field(elsewhere)) == (409, "person")
    assert (wrong_village.status_code, problem_field(wrong_village)) == (422, "person")
    assert (out_of_scope.status_code, problem_field(out_of_scope)) == (422, "person")
    assert [p.id for p in await Person.filter(household_id=home["id"])] == [villager]
    assert await Person.filter(household_id=other["id"]).count() == 0
    assert await AuditEntry.filter(action="household.member_added").count() == 1


async def test_member_listings_never_carry_personal_numbers(client: Any) -> None:
    home = await household(client, "0001")
    member = await resident(client, 1)
    await client.patch(f"{PEOPLE}/{member}", json={"phone": "13812345678"}, headers=ADMIN)
    await add(client, home["id"], member)
    read = await client.get(f"{HOUSEHOLDS}/{home['id']}", headers=ADMIN)
    listed = await client.get(HOUSEHOLDS + "/", params={"village": SHANGPING_VILLAGE}, headers=ADMIN)
    assert read.json()["members"] == [{"id": member, "name": "林1"}]
    assert listed.json()["items"][0]["members"] == [{"id": member, "name": "林1"}]
    assert "5678" not in read.text + listed.text
    assert await AuditEntry.filter(action="person.read_sensitive").count() == 0


async def test_the_head_must_be_a_member_and_removing_the_head_clears_it(client: Any) -> None:
    home = await household(client, "0001")
    head, child, outsider = await resident(client, 1), await resident(client, 2), await resident(client, 3)
    await add(client, home["id"], head)
    await add(client, home["id"], child)
    not_member = await client.put(f"{HOUSEHOLDS}/{home['id']}/head", json={"person": outsider}, headers=YUNXI_CLERK)
    named = await client.put(f"{HOUSEHOLDS}/{home['id']}/head", json={"person": head}, headers=YUNXI_CLERK)
    child_removed = await client.delete(f"{HOUSEHOLDS}/{home['id']}/members/{child}", headers=YUNXI_CLERK)
    head_removed = await client.delete(f"{HOUSEHOLDS}/{home['id']}/members/{head}", headers=YUNXI_CLERK)
    gone = await client.delete(f"{HOUSEHOLDS}/{home['id']}/members/{head}", headers=YUNXI_CLERK)
    assert (not_member.status_code, problem_field(not_member)) == (422, "person")
    assert named.status_code == 200 and named.json()["head"] == head
    assert child_removed.status_code == 200 and child_removed.json()["head"] == head
    assert child_removed.json()["members"] == [{"id": head, "name": "林1"}]
    assert head_removed.status_code == 200 and (head_removed.json()["head"], head_removed.json()["members"]) == (None, [])
    assert gone.status_code == 404
    assert (await Household.get(id=home["id"])).head_id is None
    assert await Person.filter(household_id__not_isnull=True).count() == 0


async def test_every_change_is_audited_and_the_chain_holds(client: Any) -> None:
    home = await household(client, "0001", headers=YUNXI_CLERK)
    member = await resident(client, 1)
    await add(client, home["id"], member)
    await client.put(f"{HOUSEHOLDS}/{home['id']}/head", json={"person": member}, headers=YUNXI_CLERK)
    await client.delete(f"{HOUSEHOLDS}/{home['id']}/members/{member}", headers=YUNXI_CLERK)
    entries = await AuditEntry.filter(target_type="household").order_by("id")
    assert [e.action for e in entries] == [
        "household.created", "household.member_added", "household.head_set", "household.member_removed",
    ]
    assert {(e.actor, e.area_code, e.target_id) for e in entries} == {("yunxi-clerk", SHANGPING_VILLAGE, str(home["id"]))}
    assert [e.detail for e in entries[1:]] == [{"person": member}] * 3
    assert (await verify_chain()).ok


async def test_a_failing_audit_write_rolls_each_change_back(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    home = await household(client, "0001")
    head, child, member = await resident(client, 1), await resident(client, 2), await resident(client, 3)
    await add(client, home["id"], head)
    await add(client, home["id"], child)
    await client.put(f"{HOUSEHOLDS}/{home['id']}/head", json={"person": head}, headers=ADMIN)
    before = await AuditEntry.all().count()

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("tulou.identity.households.record_audit", broken)
    responses = [
        await client.post(HOUSEHOLDS + "/", json={"number": "0002", "village": SHANGPING_VILLAGE}, headers=ADMIN),
        await add(client, home["id"], member),
        await client.put(f"{HOUSEHOLDS}/{home['id']}/head", json={"person": child}, headers=ADMIN),
        await client.delete(f"{HOUSEHOLDS}/{home['id']}/members/{head}", headers=ADMIN),
    ]
    assert [r.status_code for r in responses] == [500] * 4
    assert await Household.filter(number="0002").count() == 0
    assert (await Person.get(id=member)).household_id is None
    assert (await Person.get(id=head)).household_id == home["id"]
    assert (await Household.get(id=home["id"])).head_id == head
    assert await AuditEntry.all().count() == before
    assert (await verify_chain()).ok
