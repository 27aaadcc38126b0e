"""``/api/v1/datasets/{dataset_id}/subscriptions``: signed webhooks for a dataset's changes, and their deliveries.

Each event is POSTed as JSON with ``Tulou-Event-Id`` (the same on every retry of it)
and ``Tulou-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the
secret>``; any 2xx answer counts as delivered.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.exchange import subscriptions
from tulou.exchange.models import DeliveryStatus
from tulou.exchange.routes import DatasetPath
from tulou.exchange.subscription_schemas import (
    DeliveryOut, SubscriptionCreated, SubscriptionIn, SubscriptionOut, SubscriptionPatch, delivery_out,
    subscription_created, subscription_out,
)
from tulou.exchange.webhook_urls import AllowList, parse_allow_list
from tulou.identity.routes import caller, cipher_for
from tulou.identity.scope import clamp
from tulou.security.guards import requires

MANAGE = [requires("subscription:manage")]
SubscriptionPath = FromPath[int]


def allow_list(request: Request) -> AllowList:
    return parse_allow_list(request.app.state.platform.settings.exchange.webhook_allow)


class SubscriptionController(Controller):
    path = "/api/v1/datasets/{dataset_id:str}/subscriptions"
    tags = ["subscriptions"]

    @post("/", guards=MANAGE, summary="Subscribe a URL to the dataset's changes; the secret is shown this once")
    async def create(self, request: Request, dataset_id: DatasetPath, data: JSONBody[SubscriptionIn]) -> SubscriptionCreated:
        subscription, secret = await subscriptions.create_subscription(
            await caller(request), cipher_for(request), allow_list(request), dataset_id, data
        )
        return subscription_created(subscription, secret)

    @get("/", guards=MANAGE, summary="The dataset's subscriptions the caller manages")
    async def list_subscriptions(self, request: Request, dataset_id: DatasetPath) -> list[SubscriptionOut]:
        found = await subscriptions.list_subscriptions(await caller(request), dataset_id)
        return [subscription_out(subscription) for subscription in found]

    @get("/{subscription_id:int}", guards=MANAGE, summary="One subscription")
    async def read(self, request: Request, dataset_id: DatasetPath, subscription_id: SubscriptionPath) -> SubscriptionOut:
        managed = await subscriptions.managed_subscription(await caller(request), dataset_id, subscription_id)
        return subscription_out(managed.subscription)

    @patch("/{subscription_id:int}", guards=MANAGE, summary="Pause or resume")
    async def pause_or_resume(self, request: Request, dataset_id: DatasetPath, subscription_id: SubscriptionPath,
                              data: JSONBody[SubscriptionPatch]) -> SubscriptionOut:
        subscription = await subscriptions.set_active(
            await caller(request), allow_list(request), dataset_id, subscription_id, data.active
        )
        return subscription_out(subscription)

    @delete("/{subscription_id:int}", guards=MANAGE, summary="Unsubscribe, dropping waiting deliveries")
    async def remove(self, request: Request, dataset_id: DatasetPath, subscription_id: SubscriptionPath) -> None:
        await subscriptions.delete_subscription(await caller(request), dataset_id, subscription_id)

    @get("/{subscription_id:int}/deliveries", guards=MANAGE, summary="The subscription's deliveries, newest first")
    async def deliveries(
        self, request: Request, dataset_id: DatasetPath, subscription_id: SubscriptionPath,
        status: Annotated[DeliveryStatus | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> list[DeliveryOut]:
        found = await subscriptions.list_deliveries(
            await caller(request), dataset_id, subscription_id, status, clamp(limit), offset
        )
        return [delivery_out(delivery) for delivery in found]

    @post("/{subscription_id:int}/deliveries/{delivery_id:int}/retry", status_code=200, guards=MANAGE,
          summary="Send a dead delivery again")
    async def retry(self, request: Request, dataset_id: DatasetPath, subscription_id: SubscriptionPath,
                    delivery_id: FromPath[int]) -> DeliveryOut:
        delivery = await subscriptions.retry_delivery(await caller(request), dataset_id, subscription_id, delivery_id)
        return delivery_out(delivery)
