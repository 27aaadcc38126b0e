"""What the subscription pages show: the subscriptions the caller manages across the catalogue, and their deliveries.

Listing, reading and retrying go through :mod:`tulou.exchange.subscriptions`, as
``/api/v1/datasets/{id}/subscriptions`` does, so the caller sees exactly the
subscriptions the API would let it manage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.functions import Count

from tulou.console.translated import in_page_language
from tulou.exchange import subscriptions
from tulou.exchange.catalogue import list_datasets
from tulou.exchange.models import Dataset, Delivery, DeliveryStatus, Subscription
from tulou.i18n import lazy_gettext
from tulou.security.principal import Principal

RECENT_DELIVERIES = 50
#: A delivery's state as staff read it: a pending one that failed before is being retried.
STATES = {
    "waiting": lazy_gettext("Waiting"),
    "retrying": lazy_gettext("Retrying"),
    "delivered": lazy_gettext("Delivered"),
    "dead": lazy_gettext("Failed for good"),
}


def delivery_state(delivery: Delivery) -> str:
    if delivery.status is DeliveryStatus.PENDING:
        return "retrying" if delivery.attempts else "waiting"
    return delivery.status.value


def state_label(state: str) -> str:
    return str(STATES[state])


@dataclass
class SubscriptionRow:
    dataset: Dataset
    dataset_title: str
    subscription: Subscription
    counts: dict[str, int] = field(default_factory=dict)  # by delivery state


async def _counts(found: list[Subscription]) -> dict[int, dict[str, int]]:
    """Each subscription's deliveries by state, counted in the database."""
    if not found:
        return {}
    rows = await Delivery.filter(subscription_id__in=[s.id for s in found]) \
        .annotate(count=Count("id")).group_by("subscription_id", "status").values("subscription_id", "status", "count")
    retrying = await Delivery.filter(subscription_id__in=[s.id for s in found], status=DeliveryStatus.PENDING,
                                     attempts__gt=0).annotate(count=Count("id")).group_by("subscription_id") \
        .values("subscription_id", "count")
    counts: dict[int, dict[str, int]] = {s.id: dict.fromkeys(STATES, 0) for s in found}
    for row in rows:
        status = DeliveryStatus(row["status"])
        state = "waiting" if status is DeliveryStatus.PENDING else status.value
        counts[row["subscription_id"]][state] += row["count"]
    for row in retrying:
        counts[row["subscription_id"]]["waiting"] -= row["count"]
        counts[row["subscription_id"]]["retrying"] += row["count"]
    return counts


async def managed_subscriptions(principal: Principal) -> list[SubscriptionRow]:
    """For each dataset the caller may see, the subscriptions it manages, with their deliveries counted by state."""
    datasets = {dataset.id: dataset for dataset in await list_datasets(principal)}
    managed = await subscriptions.subscriptions_managed(principal, list(datasets.values()))
    rows = [SubscriptionRow(datasets[found.dataset_id], in_page_language(datasets[found.dataset_id].title), found)
            for found in managed]
    counts = await _counts([row.subscription for row in rows])
    for row in rows:
        row.counts = counts[row.subscription.id]
    return rows


@dataclass(frozen=True)
class SubscriptionDetail:
    dataset: Dataset
    dataset_title: str
    subscription: Subscription
    deliveries: list[Delivery]


async def subscription_detail(principal: Principal, dataset_id: str, subscription_id: int) -> SubscriptionDetail:
    """A subscription the caller manages and its latest deliveries; 404 for any other, as the API answers."""
    managed = await subscriptions.managed_subscription(principal, dataset_id, subscription_id)
    deliveries = await subscriptions.list_deliveries(principal, dataset_id, subscription_id, None, RECENT_DELIVERIES, 0)
    title = in_page_language(managed.dataset.title)
    return SubscriptionDetail(managed.dataset, title, managed.subscription, deliveries)
