"""Accounts act for organisations: managed by whoever manages both, audited, effective at once."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN, DEMO_COUNTY, SHIMEN_TOWN, YUNXI_TOWN, AppClient
from tests.exchange.conftest import organisation, staff
from tulou.audit.models import AuditEntry
from tulou.identity.accounts_models import Account
from tulou.identity.auth import principal_for_token


def members_path(account: int, organisation_id: int | None = None) -> str:
    base = f"/api/v1/accounts/{account}/organisations/"
    return base if organisation_id is None else f"{base}{organisation_id}"


async def account_id(username: str) -> int:
    return (await Account.get(username=username)).id


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_member_acts_for_its_organisation_from_the_next_request(client: AppClient) -> None:
    yunxi = await organisation(client, "云溪镇人民政府", "township_government", YUNXI_TOWN)
    clerk = await staff(client, "clerk", "township_staff", YUNXI_TOWN)
    clerk_id = await account_id("clerk")
    assert (await principal_for_token(token_of(clerk))).organisations == frozenset()  # type: ignore[union-attr]
    added = await client.post(members_path(clerk_id), json={"organisation": yunxi}, headers=ADMIN)
    assert added.status_code == 201, added.text
    assert added.json()["organisation"]["name"] == "云溪镇人民政府"
    me = await principal_for_token(token_of(clerk))
    assert me is not None and me.organisations == frozenset({yunxi})
    listed = await client.get(members_path(clerk_id), headers=ADMIN)
    assert [m["organisation"]["id"] for m in listed.json()] == [yunxi]
    again = await client.post(members_path(clerk_id), json={"organisation": yunxi}, headers=ADMIN)
    assert again.status_code == 409
    removed = await client.delete(members_path(clerk_id, yunxi), headers=ADMIN)
    assert removed.status_code == 204
    assert (await principal_for_token(token_of(clerk))).organisations == frozenset()  # type: ignore[union-attr]
    actions = await AuditEntry.filter(action__startswith="account.membership").values_list("action", flat=True)
    assert actions == ["account.membership_added", "account.membership_removed"]


async def test_a_township_admin_cannot_join_anyone_to_a_county_bureau(client: AppClient) -> None:
    bureau = await organisation(client, "县农业农村局", "department", DEMO_COUNTY)
    shimen = await organisation(client, "石门镇人民政府", "township_government", SHIMEN_TOWN)
    yunxi = await organisation(client, "云溪镇人民政府", "township_government", YUNXI_TOWN)
    admin = await staff(client, "yunxi_admin", "township_admin", YUNXI_TOWN)
    await staff(client, "clerk", "township_staff", YUNXI_TOWN)
    await staff(client, "far_clerk", "township_staff", SHIMEN_TOWN)
    clerk, far_clerk, me = await account_id("clerk"), await account_id("far_clerk"), await account_id("yunxi_admin")

    async def add(account: int, organisation_id: int) -> Any:
        return await client.post(members_path(account), json={"organisation": organisation_id}, headers=admin)

    assert (await add(clerk, bureau)).status_code == 422  # the bureau is above the admin's township
    assert (await add(me, bureau)).status_code == 422  # nor may the admin join it
    assert (await add(clerk, shimen)).status_code == 422
    assert (await add(far_clerk, yunxi)).status_code == 404  # an account of another township
    assert (await client.get(members_path(far_clerk), headers=admin)).status_code == 404
    assert (await add(clerk, yunxi)).status_code == 201
    assert (await add(clerk, 9999)).status_code == 422


async def test_an_administrator_sees_and_ends_only_memberships_in_its_areas(client: AppClient) -> None:
    """The county made a Yunxi clerk a member of Shimen's government: Yunxi's administrator
    manages the clerk but learns nothing of Shimen from it, as with the clerk's role bindings."""
    shimen = await organisation(client, "石门镇人民政府", "township_government", SHIMEN_TOWN)
    yunxi = await organisation(client, "云溪镇人民政府", "township_government", YUNXI_TOWN)
    admin = await staff(client, "yunxi_admin", "township_admin", YUNXI_TOWN)
    await staff(client, "clerk", "township_staff", YUNXI_TOWN)
    clerk = await account_id("clerk")
    for joined in (shimen, yunxi):
        assert (await client.post(members_path(clerk), json={"organisation": joined}, headers=ADMIN)).status_code == 201
    listed = await client.get(members_path(clerk), headers=admin)
    assert [m["organisation"]["id"] for m in listed.json()] == [yunxi]
    assert "石门" not in listed.text
    stranger = await organisation(client, "石门茶叶合作社", "other", SHIMEN_TOWN)  # the clerk is no member
    ended = [(await client.delete(members_path(clerk, joined), headers=admin)).status_code for joined in (shimen, stranger)]
    assert ended == [404, 404]  # the same answer, member or not
    assert (await client.delete(members_path(clerk, shimen), headers=ADMIN)).status_code == 204


async def test_memberships_need_account_permissions(client: AppClient) -> None:
    yunxi = await organisation(client, "云溪镇人民政府", "township_government", YUNXI_TOWN)
    clerk = await staff(client, "clerk", "township_staff", YUNXI_TOWN)
    response = await client.post(members_path(await account_id("clerk")), json={"organisation": yunxi}, headers=clerk)
    assert response.status_code == 403
