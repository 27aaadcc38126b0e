"""Wire shapes of subscriptions, their deliveries and the events they carry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from tulou.exchange.models import Delivery, Subscription
from tulou.exchange.schemas import AreaCode, ChangeOut

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2000, description="https URL receiving the events")]
Scalar = str | int | float | bool


class Conditions(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Which changes to send: those in ``area``'s subtree whose data has each of ``fields``' values.

    A field condition needs the field to be visible to the subscriber. Deletes carry no
    data: they are sent whenever the area matches.
    """

    area: AreaCode | None = None
    fields: Annotated[dict[str, Scalar], msgspec.Meta(max_length=10)] = {}


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    conditions: Conditions | None = None
    organisation: int | None = None


class SubscriptionPatch(msgspec.Struct, forbid_unknown_fields=True):
    """``active: false`` pauses: no events are recorded while paused, and waiting ones wait."""

    active: bool


class SubscriptionOut(msgspec.Struct):
    id: int
    dataset: str
    url: str
    conditions: dict[str, Any]
    active: bool
    subscriber: str
    organisation: int | None
    created_at: datetime


class SubscriptionCreated(SubscriptionOut, kw_only=True):
    """The subscription with its signing secret: shown this once, never again."""

    secret: str


class DeliveryOut(msgspec.Struct):
    id: int
    event_id: str
    seq: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


class Event(msgspec.Struct):
    """What a subscriber receives: one change as the change feed shows it to the subscriber."""

    event_id: str
    dataset: str
    subscription: int
    change: ChangeOut


def subscription_out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.id, dataset=subscription.dataset_id, url=subscription.url, conditions=subscription.conditions,
        active=subscription.active, subscriber=subscription.subscriber, organisation=subscription.organisation_id,
        created_at=subscription.created_at,
    )


def subscription_created(subscription: Subscription, secret: str) -> SubscriptionCreated:
    return SubscriptionCreated(**msgspec.structs.asdict(subscription_out(subscription)), secret=secret)


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id, event_id=str(delivery.event_id), seq=delivery.seq, status=delivery.status.value,
        attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at, last_status=delivery.last_status,
        last_error=delivery.last_error, delivered_at=delivery.delivered_at, created_at=delivery.created_at,
    )
