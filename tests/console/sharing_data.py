"""Data-exchange objects of Yunxi Town for the console's tests: a dataset its government keeps, a cooperative's request, a dead delivery.

Made through the API as the county would make them (the subscription and its
delivery directly: no webhook is sent in these tests), and usable in-process and
for the live server of the browser tests alike.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.conftest import ADMIN, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.core.test_accounts import PASSWORD, account
from tests.exchange.conftest import PLOTS_SCHEMA, bearer, organisation, plot
from tulou.exchange.models import Delivery, DeliveryStatus, Subscription

DATASET = "township.plots"
ZHULIN_VILLAGE = "350899100202"
PURPOSE = "统计茶园面积，安排采茶季用工"
REQUESTED_FIELDS = ["area_mu", "crop", "household"]


@dataclass(frozen=True)
class YunxiSharing:
    government: int  # owns and manages DATASET
    cooperative: int  # asks to read it
    agreement: int  # the cooperative's request, waiting for a decision
    subscription: int  # the government's subscription to DATASET
    delivery: int  # a delivery of it that failed for good


async def join(client: AppClient, account_id: int, organisation_id: int) -> None:
    joined = await client.post(f"/api/v1/accounts/{account_id}/organisations/", json={"organisation": organisation_id},
                               headers=ADMIN)
    assert joined.status_code == 201, joined.text


async def request_access(client: AppClient, username: str, organisation_id: int, areas: list[str]) -> int:
    token = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    asked = await client.post("/api/v1/agreements/", headers=bearer(token.json()["access_token"]), json={
        "dataset": DATASET, "organisation": organisation_id, "fields": REQUESTED_FIELDS, "areas": areas,
        "purpose": PURPOSE, "expires_at": (datetime.now(timezone.utc) + timedelta(days=90)).isoformat(),
    })
    assert asked.status_code == 201, asked.text
    return asked.json()["id"]


async def dead_delivery(subscription: int) -> int:
    delivery = await Delivery.create(
        subscription_id=subscription, event_id=uuid.uuid4(), seq=1, payload={"change": {"seq": 1}},
        status=DeliveryStatus.DEAD, attempts=3, next_attempt_at=datetime.now(timezone.utc), last_status=500,
        last_error="Internal Server Error",
    )
    return delivery.id


async def yunxi_sharing(client: AppClient, keepers: list[int]) -> YunxiSharing:
    """Yunxi's government keeps ``township.plots`` (``keepers`` are its staff); the Zhulin tea cooperative asks to read it."""
    government = await organisation(client, "云溪镇人民政府", "township_government", YUNXI_TOWN)
    cooperative = await organisation(client, "竹林茶叶合作社", "other", ZHULIN_VILLAGE)
    for keeper in keepers:
        await join(client, keeper, government)
    declared = await client.post("/api/v1/datasets/", headers=ADMIN, json={
        "id": DATASET, "title": {"zh_CN": "镇级地块", "en": "Township plots"}, "classification": "internal",
        "schema": PLOTS_SCHEMA, "owner": government, "manager": government, "area": YUNXI_TOWN,
    })
    assert declared.status_code == 201, declared.text
    for key, village in (("sp-1", SHANGPING_VILLAGE), ("zl-1", ZHULIN_VILLAGE)):
        written = await client.post(f"/api/v1/datasets/{DATASET}/records/", headers=ADMIN,
                                    json={"id": key, "area": village, "data": plot(key, "tea", household="H1")})
        assert written.status_code == 201, written.text
    clerk = await account(client, "zhulin_clerk", "township_staff", YUNXI_TOWN)
    await join(client, clerk, cooperative)
    agreement = await request_access(client, "zhulin_clerk", cooperative, [YUNXI_TOWN])
    subscription = await Subscription.create(dataset_id=DATASET, subscriber="tests", organisation_id=government,
                                             url="https://hooks.example.org/plots", secret_cipher="unused")
    return YunxiSharing(government, cooperative, agreement, subscription.id, await dead_delivery(subscription.id))
