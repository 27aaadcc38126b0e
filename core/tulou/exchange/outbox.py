"""The outbox: one delivery per change and matching subscription, written in the change's own transaction.

Called by :func:`tulou.exchange.feed.record_changes` for every write, a single
record or a bulk import's chunk alike: the dataset's active subscriptions are read
once per call, each subscriber's rights once per call, and the deliveries go in with
one ``executemany`` on the driver. Each payload is the change as the change feed would show it to the
subscriber (fields and areas cut to its agreements); it is cut again before sending.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import msgspec

from tulou.areas.codes import is_within
from tulou.exchange.access import DatasetAccess, View
from tulou.exchange.driver_rows import insert_rows
from tulou.exchange.models import Change, ChangeOp, Dataset, DeliveryStatus, NewChange, Subscription
from tulou.exchange.schemas import change_out
from tulou.exchange.subscription_schemas import Event
from tulou.exchange.subscribers import reader_of


_DELIVERY_COLUMNS = ("subscription_id", "event_id", "seq", "payload", "status", "attempts", "next_attempt_at",
                     "last_error", "created_at")


def matches(conditions: dict[str, Any], change: Change | NewChange, view: View) -> bool:
    """Whether the change passes the subscription's filter, judged only on what the subscriber may see.

    A delete has no data left to judge, so only its area counts.
    """
    area = conditions.get("area")
    if area is not None and not is_within(change.area_code, area):
        return False
    wanted: dict[str, Any] = conditions.get("fields", {})
    if not wanted or change.op is ChangeOp.DELETE or change.data is None:
        return True
    if not view.every_field and not set(wanted) <= view.fields:
        return False
    return all(_same(change.data.get(name), value) for name, value in wanted.items())


def _same(found: Any, wanted: Any) -> bool:
    """JSON equality: ``3`` equals ``3.0``, but ``true`` is not ``1``."""
    return isinstance(found, bool) == isinstance(wanted, bool) and found == wanted


def event_payload(event_id: uuid.UUID, subscription: Subscription, change: Change | NewChange, view: View) -> dict[str, Any]:
    event = Event(event_id=str(event_id), dataset=change.dataset_id, subscription=subscription.id,
                  change=change_out(change, view))
    return msgspec.to_builtins(event)


def _deliveries(subscription: Subscription, access: DatasetAccess, changes: Sequence[Change | NewChange],
                due: datetime) -> list[tuple[Any, ...]]:
    rows = []
    encode, pending = msgspec.json.encode, DeliveryStatus.PENDING.value
    for change in changes:
        view = access.view(change.area_code)
        if view is None or not matches(subscription.conditions, change, view):
            continue
        event_id = uuid.uuid4()
        payload = encode(event_payload(event_id, subscription, change, view)).decode()
        rows.append((subscription.id, str(event_id), change.seq, payload, pending, 0, due, "", due))
    return rows


async def enqueue_deliveries(dataset_id: str, changes: Sequence[Change | NewChange]) -> int:
    """Inside the write's transaction: the outbox rows for ``changes``; how many were written."""
    subscriptions = await Subscription.filter(dataset_id=dataset_id, active=True).order_by("id")
    if not subscriptions:
        return 0
    dataset = await Dataset.get(id=dataset_id)
    due, rows = datetime.now(timezone.utc), []
    for subscription in subscriptions:
        access = await reader_of(subscription, dataset)
        if access is not None:
            rows.extend(_deliveries(subscription, access, changes, due))
    await insert_rows("core_delivery", _DELIVERY_COLUMNS, rows)
    return len(rows)
