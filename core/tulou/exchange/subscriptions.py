"""Subscriptions: a URL told about a dataset's changes, as its subscriber may see them.

Whoever may read a dataset's change feed and holds ``subscription:manage`` may
subscribe: the owner's and manager's staff, a grantee under an approved agreement
(and, for a public dataset, any reader). A subscription reads with its subscriber's
rights, worked out again whenever events are recorded and again before each is
sent: when the subscriber loses them (an agreement revoked or expired, an account
disabled, a role removed) nothing more is sent. It is managed by its subscriber, by
members of the organisation it was made for, and by the dataset's keepers.

The signing secret is made by Tulou and shown once. It must be kept reversibly, as
each delivery is signed with it, so it is stored encrypted under the personal-data
keys (sealed to ``subscription.secret``) rather than hashed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.errors import Conflict, Forbidden, Invalid, NotFound
from tulou.exchange.access import DatasetAccess
from tulou.exchange.agreements import keeps
from tulou.exchange.catalogue import readable_dataset, visible_dataset
from tulou.exchange.filters import scalar_type
from tulou.exchange.models import Dataset, Delivery, DeliveryStatus, Subscription
from tulou.exchange.subscribers import SECRET_CONTEXT
from tulou.exchange.subscription_schemas import Conditions, SubscriptionIn
from tulou.exchange.versions import latest_version
from tulou.exchange.webhook_urls import AllowList, resolve_target
from tulou.i18n import gettext as _
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.scope import area_in_scope
from tulou.security.principal import Principal

PYTHON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,)}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _typed_condition(name: str, value: Any, schema: dict[str, Any]) -> Any:
    kind = scalar_type(schema.get("properties", {}).get(name))
    if kind is None:
        raise Invalid(_("%(param)s: only string, number and true/false fields can be filtered on") % {"param": name},
                      field=f"conditions.fields.{name}")
    if isinstance(value, bool) != (kind == "boolean") or not isinstance(value, PYTHON_TYPES[kind]):
        raise Invalid(_("%(name)s has the wrong type: the schema says %(kind)s") % {"name": name, "kind": kind}, field=f"conditions.fields.{name}")
    return value


async def _conditions(principal: Principal, dataset: Dataset, access: DatasetAccess,
                      conditions: Conditions | None) -> dict[str, Any]:
    """The filter as stored: an area the caller covers, fields of the schema it may see somewhere."""
    if conditions is None:
        return {}
    stored: dict[str, Any] = {}
    if conditions.area is not None:
        stored["area"] = (await area_in_scope(principal, conditions.area, "conditions.area")).code
    if conditions.fields:
        schema = (await latest_version(dataset.id, None)).schema
        stored["fields"] = {name: _typed_condition(name, value, schema) for name, value in sorted(conditions.fields.items())}
        if access.roots_showing(stored["fields"]) == ():
            raise Invalid(_("You may not filter on fields you cannot see"), field="conditions.fields")
    return stored


def _organisation(principal: Principal, organisation: int | None) -> int | None:
    if organisation is None:
        return next(iter(principal.organisations)) if len(principal.organisations) == 1 else None
    if organisation not in principal.organisations:
        raise Forbidden(_("You do not act for this organisation"), field="organisation")
    return organisation


async def create_subscription(principal: Principal, cipher: PersonalDataCipher, allow: AllowList, dataset_id: str,
                              data: SubscriptionIn) -> tuple[Subscription, str]:
    """A new active subscription and its secret, which is returned this once."""
    dataset, access = await readable_dataset(principal, dataset_id)
    target = await resolve_target(data.url, allow)
    conditions = await _conditions(principal, dataset, access, data.conditions)
    organisation = _organisation(principal, data.organisation)
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with in_transaction():
        subscription = await Subscription.create(
            dataset_id=dataset.id, subscriber=principal.id, organisation_id=organisation, url=target.url,
            secret_cipher=cipher.encrypt(secret, SECRET_CONTEXT), conditions=conditions,
        )
        await _audit(principal, dataset, subscription, "subscription.created", url=target.url, conditions=conditions)
    return subscription, secret


async def _audit(principal: Principal, dataset: Dataset, subscription: Subscription, action: str, **detail: Any) -> None:
    await record_audit(
        principal.id, action, area_code=dataset.area_id, target_type="subscription", target_id=str(subscription.id),
        detail={"dataset": dataset.id, "subscriber": subscription.subscriber, **detail},
    )


def _managed_by(principal: Principal, dataset: Dataset) -> Q | None:
    """The dataset's subscriptions the caller manages, as a filter; ``None`` for all of them."""
    if keeps(principal, dataset):
        return None
    return Q(subscriber=principal.id) | Q(organisation_id__in=list(principal.organisations))


async def list_subscriptions(principal: Principal, dataset_id: str) -> list[Subscription]:
    return await subscriptions_managed(principal, [await visible_dataset(principal, dataset_id)])


async def subscriptions_managed(principal: Principal, datasets: Sequence[Dataset]) -> list[Subscription]:
    """The subscriptions the caller manages of ``datasets`` (ones the caller may see), in one query."""
    wanted = []
    for dataset in datasets:
        managed = _managed_by(principal, dataset)
        wanted.append(Q(dataset_id=dataset.id) if managed is None else Q(dataset_id=dataset.id) & managed)
    if not wanted:
        return []
    return await Subscription.filter(Q(*wanted, join_type="OR")).order_by("dataset_id", "id")


@dataclass(frozen=True)
class Managed:
    dataset: Dataset
    subscription: Subscription


async def managed_subscription(principal: Principal, dataset_id: str, subscription_id: int) -> Managed:
    """A subscription of the dataset the caller manages; 404 for any other."""
    dataset = await visible_dataset(principal, dataset_id)
    query = Subscription.filter(dataset_id=dataset.id, id=subscription_id)
    managed = _managed_by(principal, dataset)
    found = await (query if managed is None else query.filter(managed)).first()
    if found is None:
        raise NotFound(_("Subscription not found"), field="subscription_id")
    return Managed(dataset, found)


async def set_active(principal: Principal, allow: AllowList, dataset_id: str, subscription_id: int,
                     active: bool) -> Subscription:
    """Pause or resume. Resuming checks the URL again: the allow-list may have changed."""
    managed = await managed_subscription(principal, dataset_id, subscription_id)
    if active:
        await resolve_target(managed.subscription.url, allow)
    async with in_transaction():
        await Subscription.filter(id=subscription_id).update(active=active)
        await _audit(principal, managed.dataset, managed.subscription,
                     "subscription.resumed" if active else "subscription.paused")
    return await Subscription.get(id=subscription_id)


async def delete_subscription(principal: Principal, dataset_id: str, subscription_id: int) -> None:
    """Remove the subscription with its waiting and past deliveries."""
    managed = await managed_subscription(principal, dataset_id, subscription_id)
    async with in_transaction():
        await managed.subscription.delete()
        await _audit(principal, managed.dataset, managed.subscription, "subscription.deleted")


async def list_deliveries(principal: Principal, dataset_id: str, subscription_id: int, status: DeliveryStatus | None,
                          limit: int, offset: int) -> list[Delivery]:
    """The subscription's deliveries, newest first."""
    await managed_subscription(principal, dataset_id, subscription_id)
    query = Delivery.filter(subscription_id=subscription_id)
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-id").offset(offset).limit(limit)


async def retry_delivery(principal: Principal, dataset_id: str, subscription_id: int, delivery_id: int) -> Delivery:
    """Put a dead delivery back in the queue, due now, with its attempts counted afresh."""
    managed = await managed_subscription(principal, dataset_id, subscription_id)
    delivery = await Delivery.get_or_none(id=delivery_id, subscription_id=subscription_id)
    if delivery is None:
        raise NotFound(_("Delivery not found"), field="delivery_id")
    async with in_transaction():
        retried = await Delivery.filter(id=delivery.id, status=DeliveryStatus.DEAD).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=_now(),
        )
        if not retried:
            raise Conflict(_("Only a dead delivery can be retried"), field="status")
        await _audit(principal, managed.dataset, managed.subscription, "subscription.delivery_retried",
                     delivery=delivery.id, event_id=str(delivery.event_id))
    return await Delivery.get(id=delivery.id)
