"""The data catalogue and subscription pages: thin handlers over :mod:`tulou.console.datasets` and :mod:`tulou.console.subscriptions`.

Each takes the guard of its API route (``dataset:read`` for the catalogue,
``subscription:manage`` for subscriptions), and the services behind them answer 404
for a dataset or subscription the caller may not see, as the API does.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from tulou.console import datasets, subscriptions
from tulou.console.guards import SESSION_PRINCIPAL_KEY
from tulou.console.layout import CONSOLE, page, see_other
from tulou.errors import Conflict
from tulou.exchange import subscriptions as exchange_subscriptions
from tulou.identity.routes import caller
from tulou.security.guards import requires
from tulou.security.principal import Principal

READ_CATALOGUE = requires("dataset:read")
MANAGE_SUBSCRIPTIONS = requires("subscription:manage")


def record_reader(request: Request) -> Principal | None:
    """The signed-in caller as the API's record routes would see it, whatever the page's own guard narrowed to."""
    return datasets.record_reader(request.scope[SESSION_PRINCIPAL_KEY])  # type: ignore[literal-required]


class DatasetPagesController(Controller):
    path = f"{CONSOLE}/datasets"
    include_in_schema = False

    @get("/", guards=[READ_CATALOGUE])
    async def catalogue_page(self, request: Request) -> Any:
        rows = await datasets.catalogue(await caller(request), record_reader(request))
        return await page(request, "datasets.html", rows=rows)

    @get("/{dataset_id:str}", guards=[READ_CATALOGUE])
    async def dataset_page(self, request: Request, dataset_id: FromPath[str]) -> Any:
        detail = await datasets.dataset_detail(await caller(request), record_reader(request), dataset_id,
                                               request.url.path)
        return await page(request, "dataset.html", detail=detail)


class SubscriptionPagesController(Controller):
    path = f"{CONSOLE}/subscriptions"
    include_in_schema = False

    @get("/", guards=[MANAGE_SUBSCRIPTIONS])
    async def subscriptions_page(self, request: Request) -> Any:
        rows = await subscriptions.managed_subscriptions(await caller(request))
        return await page(request, "subscriptions.html", rows=rows, state_label=subscriptions.state_label)

    @get("/{dataset_id:str}/{subscription_id:int}", guards=[MANAGE_SUBSCRIPTIONS])
    async def subscription_page(self, request: Request, dataset_id: FromPath[str], subscription_id: FromPath[int],
                                retried: FromQuery[int | None] = None) -> Any:
        return await self._subscription(request, dataset_id, subscription_id, retried=retried)

    @post("/{dataset_id:str}/{subscription_id:int}/deliveries/{delivery_id:int}/retry", guards=[MANAGE_SUBSCRIPTIONS])
    async def retry(self, request: Request, dataset_id: FromPath[str], subscription_id: FromPath[int],
                    delivery_id: FromPath[int]) -> Any:
        try:
            await exchange_subscriptions.retry_delivery(await caller(request), dataset_id, subscription_id, delivery_id)
        except Conflict as refused:
            return await self._subscription(request, dataset_id, subscription_id, error=refused.detail, status=409)
        return see_other(f"{self.path}/{dataset_id}/{subscription_id}?retried={delivery_id}")

    async def _subscription(self, request: Request, dataset_id: str, subscription_id: int, *,
                            retried: int | None = None, error: str | None = None, status: int = 200) -> Any:
        detail = await subscriptions.subscription_detail(await caller(request), dataset_id, subscription_id)
        return await page(request, "subscription.html", status=status, detail=detail, retried=retried, error=error,
                          delivery_state=subscriptions.delivery_state, state_label=subscriptions.state_label)
