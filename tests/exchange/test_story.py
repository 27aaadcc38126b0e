"""The issue's "done when", end to end over HTTP.

The county agriculture bureau publishes a plots dataset; Shimen Town ("township B")
asks for three fields of its villages' plots for a stated purpose; the bureau
approves; Shimen's system (an OAuth2 client of the township government) syncs
through the change feed; after revocation it gets nothing more, and the audit log
shows each read with its purpose. Its system also subscribes a URL and receives
signed events of the same changes, cut the same way, and none after the revocation.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import ADMIN, DEMO_COUNTY, SHANGPING_VILLAGE, SHIMEN_TOWN, AppClient
from tests.exchange.conftest import PLOTS, PLOTS_SCHEMA, bearer, organisation, plot, staff
from tests.exchange.receiver import Receiver, deliver_until_settled, receiver_running

PURPOSE = "2026年耕地地力保护补贴面积核对"
FIELDS = ["area_mu", "crop", "irrigated"]


async def system_of(client: AppClient, organisation_id: int) -> dict[str, str]:
    """Township B's own system, registered by the county as a client reading in Shimen: its bearer header."""
    registered = await client.post("/api/v1/clients/", json={
        "name": "石门镇农业数据平台", "organisation": organisation_id, "area": SHIMEN_TOWN,
        "scopes": ["dataset:read", "record:read", "subscription:manage"],
    }, headers=ADMIN)
    assert registered.status_code == 201, registered.text
    secrets = registered.json()
    issued = await client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": secrets["client_id"], "client_secret": secrets["client_secret"],
    })
    assert issued.status_code == 200, issued.text
    return bearer(issued.json()["access_token"])


async def sync(client: AppClient, system: dict[str, str], cursor: str | None, copy: dict[str, Any]) -> tuple[str | None, int]:
    """Apply every waiting change to ``copy``; the new cursor and how many pages returned changes."""
    pages = 0
    while True:
        page = await client.get(f"/api/v1/datasets/{PLOTS}/changes", params={"limit": 2, **({"after": cursor} if cursor else {})},
                                headers=system)
        assert page.status_code == 200, page.text
        body = page.json()
        pages += bool(body["changes"])
        for change in body["changes"]:
            if change["op"] == "delete":
                copy.pop(change["id"], None)  # events start at the subscription: its create came before
            else:
                copy[change["id"]] = (change["area"], change["data"])
        cursor = body["next"]
        if not body["more"]:
            return cursor, pages


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Township B's system listens on 127.0.0.1 here, which the county's administrator admits."""
    return {**settings, "exchange": {"webhook_allow": "127.0.0.1"}}


def apply_events(receiver: Receiver, secret: str, copy: dict[str, Any]) -> None:
    """Apply the signed events received so far, in feed order, each once however often it came."""
    assert receiver.requests and all(request.signed_with(secret) for request in receiver.requests)
    events = {request.event_id: request.event for request in receiver.delivered}
    for event in sorted(events.values(), key=lambda event: event["change"]["seq"]):
        change = event["change"]
        if change["op"] == "delete":
            copy.pop(change["id"], None)  # events start at the subscription: its create came before
        else:
            copy[change["id"]] = (change["area"], change["data"])


async def test_the_bureau_shares_plots_with_township_b_until_it_revokes(client: AppClient) -> None:
    with receiver_running() as receiver:
        await share_plots_with_township_b(client, receiver)


async def share_plots_with_township_b(client: AppClient, receiver: Receiver) -> None:
    bureau = await organisation(client, "云溪县农业农村局", "department", DEMO_COUNTY)
    township_b = await organisation(client, "石门镇人民政府", "township_government", SHIMEN_TOWN)
    declared = await client.post("/api/v1/datasets/", json={
        "id": PLOTS, "title": {"zh_CN": "耕地地块", "en": "Farm plots"}, "classification": "internal", "schema": PLOTS_SCHEMA,
    }, headers=ADMIN)
    assert declared.status_code == 201 and declared.json()["status"] == "draft"
    published = await client.put(f"/api/v1/datasets/{PLOTS}", json={"owner": bureau, "manager": bureau, "area": DEMO_COUNTY},
                                 headers=ADMIN)
    assert published.status_code == 200

    officer = await staff(client, "bureau_officer", "township_admin", DEMO_COUNTY, bureau)
    records = f"/api/v1/datasets/{PLOTS}/records/"
    villages = [a["code"] for a in (await client.get("/api/v1/areas/", params={"parent": SHIMEN_TOWN, "level": "village"})).json()["items"]]
    for n, area in enumerate([*villages, SHANGPING_VILLAGE]):
        made = await client.post(records, json={"id": f"plot-{n}", "area": area,
                                                "data": plot(f"plot {n}", area_mu=n + 1, household=f"H{n}", irrigated=True)},
                                 headers=officer)
        assert made.status_code == 201, made.text

    clerk = await staff(client, "shimen_clerk", "township_staff", SHIMEN_TOWN, township_b)
    system = await system_of(client, township_b)
    [entry] = (await client.get("/api/v1/datasets/", headers=system)).json()
    assert entry["owner"]["name"] == entry["manager"]["name"] == "云溪县农业农村局"
    assert (await client.get(records, headers=system)).status_code == 403  # not yet
    asked = await client.post("/api/v1/agreements/", json={
        "dataset": PLOTS, "organisation": township_b, "fields": FIELDS, "areas": villages, "purpose": PURPOSE,
        "expires_at": (datetime.now(timezone.utc) + timedelta(days=90)).isoformat(),
    }, headers=clerk)
    assert asked.status_code == 201, asked.text
    [waiting] = (await client.get("/api/v1/agreements/", params={"side": "keeper", "status": "requested"}, headers=officer)).json()
    approved = await client.post(f"/api/v1/agreements/{waiting['id']}/approve", json={"note": "同意"}, headers=officer)
    assert approved.status_code == 200 and approved.json()["active"] is True

    subscribed = await client.post(f"/api/v1/datasets/{PLOTS}/subscriptions/", json={"url": receiver.url}, headers=system)
    assert subscribed.status_code == 201, subscribed.text
    secret, pushed = subscribed.json()["secret"], {}

    copy: dict[str, Any] = {}
    cursor, reads = await sync(client, system, None, copy)
    shared = {f"plot-{n}": (area, {"crop": "rice", "area_mu": n + 1, "irrigated": True}) for n, area in enumerate(villages)}
    assert copy == shared  # its villages only, three fields only: no name, no household, nothing of Yunxi

    await client.patch(f"{records}plot-0", json={"data": {"crop": "tea", "name": "renamed"}}, headers=officer)
    await client.delete(f"{records}plot-1", headers=officer)
    await client.post(records, json={"id": "late", "area": villages[0], "data": plot("late", "maize", 9)}, headers=officer)
    await client.patch(f"{records}plot-{len(villages)}", json={"data": {"crop": "tea"}}, headers=officer)  # Yunxi's
    cursor, more_reads = await sync(client, system, cursor, copy)
    del shared["plot-1"]
    shared["plot-0"] = (villages[0], {"crop": "tea", "area_mu": 1, "irrigated": True})
    shared["late"] = (villages[0], {"crop": "maize", "area_mu": 9})
    assert copy == shared
    receiver.failures = 2  # B's system is down for a moment: the events come later
    await deliver_until_settled(client.app)
    apply_events(receiver, secret, pushed)
    assert pushed == {key: value for key, value in shared.items() if key == "late" or key.startswith("plot-0")}

    revoked = await client.post(f"/api/v1/agreements/{waiting['id']}/revoke", json={"note": "核对完成"}, headers=officer)
    assert revoked.status_code == 200
    await client.patch(f"{records}plot-0", json={"data": {"crop": "rice"}}, headers=officer)
    after = await client.get(f"/api/v1/datasets/{PLOTS}/changes", params={"after": cursor}, headers=system)
    assert after.status_code == 403 and (await client.get(records, headers=system)).status_code == 403
    received = len(receiver.requests)
    await deliver_until_settled(client.app)
    assert len(receiver.requests) == received  # no event after the revocation

    audit = (await client.get("/api/v1/audit/", params={"action": "exchange.read"}, headers=ADMIN)).json()["items"]
    assert len(audit) == reads + more_reads
    assert all(entry["purpose"] == PURPOSE and entry["actor"].startswith("client:") for entry in audit)
    assert all(entry["detail"]["agreements"] == [waiting["id"]] for entry in audit)
    steps = (await client.get("/api/v1/audit/", params={"action": "agreement.revoked"}, headers=ADMIN)).json()["items"]
    assert steps[0]["purpose"] == PURPOSE
