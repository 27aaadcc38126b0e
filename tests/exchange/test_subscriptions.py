"""Subscriptions: signed events through a transactional outbox, at least once, cut to what the subscriber may read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import (
    ADMIN, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS,
)
from tests.exchange.conftest import PLOTS, County, plot, staff
from tests.exchange.receiver import Receiver, deliver_until_settled, receiver_running
from tulou.cli.reencrypt import STORED_TOKENS
from tulou.errors import Invalid
from tulou.exchange.delivery import deliver_due, http_client
from tulou.exchange.models import Delivery, DeliveryStatus, Subscription
from tulou.exchange.subscribers import ENCRYPTED_COLUMNS, SECRET_CONTEXT
from tulou.exchange.webhook_urls import AllowList, parse_allow_list, resolve_target
from tulou.identity.crypto import PersonalDataCipher, new_key, token_key_id
from tulou.identity.rotation import reencrypt
from tulou.settings import parse_key, parse_keyring

SUBSCRIPTIONS = f"/api/v1/datasets/{PLOTS}/subscriptions/"
RECORDS = f"/api/v1/datasets/{PLOTS}/records/"
MAX_ATTEMPTS = 3


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Only 127.0.0.1 is admitted, over http too; three failures make a delivery dead."""
    return {**settings, "exchange": {"webhook_allow": "127.0.0.1", "max_attempts": MAX_ATTEMPTS, "batch_size": 5}}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_running() as running:
        yield running


async def subscribe(county: County, url: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    made = await county.client.post(SUBSCRIPTIONS, json={"url": url, **body}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_subscriber_that_fails_then_recovers_gets_every_event_signed(county: County, receiver: Receiver) -> None:
    subscription = await subscribe(county, receiver.url, county.keeper)
    assert subscription["secret"].startswith("whsec_") and subscription["active"] is True
    shown_again = await county.client.get(f"{SUBSCRIPTIONS}{subscription['id']}", headers=county.keeper)
    assert "secret" not in shown_again.json()
    stored = await Subscription.get(id=subscription["id"])
    assert subscription["secret"] not in stored.secret_cipher  # encrypted at rest

    for n in range(4):
        await county.write(f"plot-{n}", NANYANG_VILLAGE, plot(f"plot {n}", area_mu=n + 1))
    await county.client.patch(f"{RECORDS}plot-0", json={"data": {"crop": "tea"}}, headers=county.keeper)
    await county.client.delete(f"{RECORDS}plot-1", headers=county.keeper)
    receiver.failures = MAX_ATTEMPTS - 1

    await deliver_until_settled(county.client.app)
    deliveries = await Delivery.filter(subscription_id=subscription["id"]).order_by("seq")
    assert [d.status for d in deliveries] == [DeliveryStatus.DELIVERED] * 6
    assert sorted({r.event_id for r in receiver.delivered}) == sorted(str(d.event_id) for d in deliveries)
    assert all(request.signed_with(subscription["secret"]) for request in receiver.requests)
    assert not any(request.signed_with("whsec_another") for request in receiver.requests)
    assert max(receiver.counts().values()) > 1  # the failures were retried ...
    for event_id in receiver.counts():  # ... and a repeat is the same event under the same id
        assert len({request.body for request in receiver.requests if request.event_id == event_id}) == 1
    events = sorted((r.event for r in receiver.delivered), key=lambda event: event["change"]["seq"])
    assert [(e["change"]["seq"], e["change"]["op"], e["change"]["id"]) for e in events] == [
        (1, "create", "plot-0"), (2, "create", "plot-1"), (3, "create", "plot-2"), (4, "create", "plot-3"),
        (5, "update", "plot-0"), (6, "delete", "plot-1"),
    ]
    assert events[4]["change"]["data"]["crop"] == "tea" and events[5]["change"]["data"] is None
    assert all(event["dataset"] == PLOTS and event["subscription"] == subscription["id"] for event in events)


async def test_a_delivery_that_keeps_failing_is_dead_until_retried(county: County, receiver: Receiver) -> None:
    subscription = await subscribe(county, receiver.url, county.keeper)
    deliveries = f"{SUBSCRIPTIONS}{subscription['id']}/deliveries"
    receiver.failures = 100
    await county.write("plot-1", NANYANG_VILLAGE, plot("plot 1"))
    await deliver_until_settled(county.client.app)
    [dead] = (await county.client.get(deliveries, params={"status": "dead"}, headers=county.keeper)).json()
    assert dead["attempts"] == MAX_ATTEMPTS and dead["last_status"] == 500 and len(receiver.requests) == MAX_ATTEMPTS
    assert (await county.client.get(deliveries, params={"status": "pending"}, headers=county.keeper)).json() == []

    receiver.failures = 0
    retried = await county.client.post(f"{deliveries}/{dead['id']}/retry", headers=county.keeper)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    await deliver_until_settled(county.client.app)
    [delivered] = (await county.client.get(deliveries, headers=county.keeper)).json()
    assert delivered["status"] == "delivered" and delivered["event_id"] == dead["event_id"]
    assert receiver.delivered[0].event_id == dead["event_id"]
    again = await county.client.post(f"{deliveries}/{dead['id']}/retry", headers=county.keeper)
    assert again.status_code == 409


@pytest.mark.parametrize("url", [
    "https://10.1.2.3/hook", "https://169.254.169.254/latest/meta-data", "https://[::1]/hook",
    "https://[::ffff:10.0.0.1]/hook", "https://192.168.1.10/hook", "https://0.0.0.0/hook", "https://224.0.0.1/hook",
    "http://93.184.216.34/hook", "ftp://93.184.216.34/hook", "https://user:pw@93.184.216.34/hook",
])
async def test_private_addresses_and_plain_http_are_refused(county: County, url: str) -> None:
    refused = await county.client.post(SUBSCRIPTIONS, json={"url": url}, headers=county.keeper)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url", refused.text
    assert not await Subscription.exists()


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://localhost:8443/hook", "https://[::1]/hook",
                                 "https://[::ffff:127.0.0.1]/hook", "https://10.9.8.7/", "https://169.254.1.1/"])
async def test_without_the_allow_list_loopback_and_private_names_are_refused(url: str) -> None:
    with pytest.raises(Invalid):
        await resolve_target(url, AllowList())


async def test_the_allow_list_admits_hosts_and_networks() -> None:
    allow = parse_allow_list("localhost, 10.0.0.0/8")
    assert (await resolve_target("http://localhost:9000/x", allow)).address.is_loopback
    assert (await resolve_target("https://10.9.8.7/x", allow)).pinned_url == "https://10.9.8.7/x"
    assert (await resolve_target("https://[::ffff:10.1.1.1]/x", allow)).address.ipv4_mapped is not None
    with pytest.raises(Invalid):
        await resolve_target("https://192.168.0.1/x", allow)
    with pytest.raises(ValueError):
        parse_allow_list("10.0.0.0/8, not a host!")


async def test_the_url_is_checked_again_before_each_delivery(county: County, receiver: Receiver) -> None:
    """An admin narrowing the allow-list (or a name now resolving elsewhere) stops deliveries: nothing is sent."""
    subscription = await subscribe(county, receiver.url, county.keeper)
    await county.write("plot-1", NANYANG_VILLAGE, plot("plot 1"))
    settings = county.client.app.state.platform.settings
    settings.exchange.webhook_allow = ""
    await deliver_until_settled(county.client.app)
    [delivery] = await Delivery.filter(subscription_id=subscription["id"])
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == MAX_ATTEMPTS and "https" in delivery.last_error
    assert receiver.requests == []


async def shimen_grantee(county: County) -> tuple[dict[str, str], int]:
    """Shimen's administrator, and the agreement giving Shimen crop and area of Nanyang's plots."""
    admin = await staff(county.client, "shimen_admin", "township_admin", SHIMEN_TOWN, county.shimen)
    asked = await county.client.post("/api/v1/agreements/", json={
        "dataset": PLOTS, "organisation": county.shimen, "fields": ["crop", "area_mu"], "areas": [NANYANG_VILLAGE],
        "purpose": "耕地核对", "expires_at": (datetime.now(timezone.utc) + timedelta(days=30)).isoformat(),
    }, headers=admin)
    assert asked.status_code == 201, asked.text
    approved = await county.client.post(f"/api/v1/agreements/{asked.json()['id']}/approve", json={}, headers=county.keeper)
    assert approved.status_code == 200, approved.text
    return admin, asked.json()["id"]


async def test_a_grantee_gets_agreed_fields_and_areas_and_nothing_after_revocation(county: County, receiver: Receiver) -> None:
    admin, agreement = await shimen_grantee(county)
    subscription = await subscribe(county, receiver.url, admin)
    assert subscription["organisation"] == county.shimen
    await county.write("nanyang-1", NANYANG_VILLAGE, plot("secret name", household="H1"))
    await county.write("shangping-1", SHANGPING_VILLAGE, plot("in Yunxi"))
    await deliver_until_settled(county.client.app)
    [event] = [request.event for request in receiver.delivered]
    assert event["change"]["id"] == "nanyang-1" and event["change"]["data"] == {"crop": "rice", "area_mu": 2.5}

    await county.write("nanyang-2", NANYANG_VILLAGE, plot("written before the revocation"))
    assert await Delivery.filter(status=DeliveryStatus.PENDING).count() == 1
    revoked = await county.client.post(f"/api/v1/agreements/{agreement}/revoke", json={}, headers=county.keeper)
    assert revoked.status_code == 200
    await deliver_until_settled(county.client.app)
    waiting = await Delivery.get(seq=3)
    assert waiting.status is DeliveryStatus.DEAD and "no longer" in waiting.last_error
    await county.write("nanyang-3", NANYANG_VILLAGE, plot("written after"))
    assert not await Delivery.filter(seq=4).exists()
    assert len(receiver.requests) == 1


async def test_conditions_choose_changes_and_only_on_visible_fields(county: County, receiver: Receiver) -> None:
    admin, _agreement = await shimen_grantee(county)
    hidden = await county.client.post(SUBSCRIPTIONS, json={"url": receiver.url, "conditions": {"fields": {"name": "x"}}},
                                      headers=admin)
    assert hidden.status_code == 422 and hidden.json()["errors"][0]["field"] == "conditions.fields"
    mistyped = await county.client.post(SUBSCRIPTIONS, json={"url": receiver.url, "conditions": {"fields": {"area_mu": "2"}}},
                                        headers=admin)
    assert mistyped.status_code == 422 and mistyped.json()["errors"][0]["field"] == "conditions.fields.area_mu"
    await subscribe(county, receiver.url, admin, conditions={"fields": {"crop": "tea"}})
    await subscribe(county, receiver.url, county.keeper, conditions={"area": SHANGPING_VILLAGE})
    await county.write("nanyang-rice", NANYANG_VILLAGE, plot("a"))
    await county.write("nanyang-tea", NANYANG_VILLAGE, plot("b", "tea"))
    await county.write("shangping-tea", SHANGPING_VILLAGE, plot("c", "tea"))
    await deliver_until_settled(county.client.app)
    got = sorted((r.event["subscription"], r.event["change"]["id"]) for r in receiver.delivered)
    first, second = sorted({subscription for subscription, _key in got})
    assert got == [(first, "nanyang-tea"), (second, "shangping-tea")]


async def test_subscriptions_are_managed_by_their_subscriber_and_the_keepers(county: County, receiver: Receiver) -> None:
    admin, _agreement = await shimen_grantee(county)
    mine = await subscribe(county, receiver.url, admin)
    kept = await subscribe(county, receiver.url, county.keeper)
    assert [s["id"] for s in (await county.client.get(SUBSCRIPTIONS, headers=admin)).json()] == [mine["id"]]
    assert len((await county.client.get(SUBSCRIPTIONS, headers=county.keeper)).json()) == 2
    assert (await county.client.get(f"{SUBSCRIPTIONS}{kept['id']}", headers=admin)).status_code == 404
    assert (await county.client.delete(f"{SUBSCRIPTIONS}{kept['id']}", headers=admin)).status_code == 404
    clerk = await county.client.post(SUBSCRIPTIONS, json={"url": receiver.url}, headers=county.shimen_clerk)
    assert clerk.status_code == 403  # township staff do not hold subscription:manage

    paused = await county.client.patch(f"{SUBSCRIPTIONS}{mine['id']}", json={"active": False}, headers=admin)
    assert paused.status_code == 200 and paused.json()["active"] is False
    await county.write("nanyang-1", NANYANG_VILLAGE, plot("a"))
    assert not await Delivery.filter(subscription_id=mine["id"]).exists()  # a paused subscription records nothing
    assert (await county.client.delete(f"{SUBSCRIPTIONS}{mine['id']}", headers=county.keeper)).status_code == 204
    audit = (await county.client.get("/api/v1/audit/", params={"target_type": "subscription"}, headers=ADMIN)).json()["items"]
    assert {entry["action"] for entry in audit} >= {"subscription.created", "subscription.paused", "subscription.deleted"}


async def test_two_workers_deliver_each_event_once(county: County, receiver: Receiver) -> None:
    """Workers claim disjoint batches (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): no event is sent twice."""
    await subscribe(county, receiver.url, county.keeper)
    await subscribe(county, receiver.url, county.keeper, conditions={"area": NANYANG_VILLAGE})
    for n in range(15):
        await county.write(f"plot-{n}", NANYANG_VILLAGE, plot(f"plot {n}"))
    expected = await Delivery.all().count()
    assert expected == 30

    settings = county.client.app.state.platform.settings

    async def worker() -> int:
        """A worker as the background one runs: it leaves the others' claims alone (no test shortcut to due times)."""
        claimed = 0
        async with http_client(settings.exchange) as client:
            while found := await deliver_due(settings, client):
                claimed += found
        return claimed

    claims = await asyncio.gather(worker(), worker(), worker())
    assert sum(claims) == expected
    assert len(receiver.counts()) == expected and set(receiver.counts().values()) == {1}
    assert await Delivery.filter(status=DeliveryStatus.DELIVERED).count() == expected


async def test_key_rotation_moves_subscription_secrets_keeping_their_value(county: County, receiver: Receiver) -> None:
    assert set(ENCRYPTED_COLUMNS) <= set(STORED_TOKENS)  # `tulou identity reencrypt` moves them too
    subscription = await subscribe(county, receiver.url, county.keeper)
    ring = {**parse_keyring(TEST_ENCRYPTION_KEYS), "knew": parse_key(new_key())}
    cipher = PersonalDataCipher(ring, "knew", parse_key(TEST_BLIND_INDEX_KEY))
    report = await reencrypt(cipher, columns=ENCRYPTED_COLUMNS)
    assert report.removable_keys(ring) == ["ktest"]
    stored = await Subscription.get(id=subscription["id"])
    assert token_key_id(stored.secret_cipher) == "knew"
    assert cipher.decrypt(stored.secret_cipher, SECRET_CONTEXT) == subscription["secret"]
