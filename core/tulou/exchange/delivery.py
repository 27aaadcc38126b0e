"""Sending the outbox: signed POSTs, retried with exponential backoff and jitter, dead after too many failures.

A worker claims a batch of due deliveries in a short transaction by moving their
``next_attempt_at`` past a lease; on PostgreSQL the batch is selected ``FOR UPDATE
SKIP LOCKED``, so workers in several processes claim different rows and never wait
for each other. Each delivery is then sent outside any transaction and its outcome
written. A worker that dies mid-batch leaves its claims to expire: they are sent
again after the lease, which is why delivery is *at least once* and each event
carries its id (``Tulou-Event-Id``) for the receiver to drop repeats.

Order: a subscription's deliveries in one batch go in ``seq`` order, and after a
failure the rest of its batch waits for the failed one's retry. Events recorded
later can still overtake a delivery waiting for a retry, and a dead one is skipped:
receivers order by ``change.seq`` (and a record's ``version``) rather than by arrival.

Before sending, the subscriber's rights are checked again: a change it may no longer
read (agreement revoked or expired, subscriber disabled) is not sent, and its
delivery is marked dead with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec
from tortoise import connections
from tortoise.transactions import in_transaction

from tulou.errors import Problem
from tulou.exchange.access import DatasetAccess
from tulou.exchange.models import Delivery, DeliveryStatus, Subscription
from tulou.exchange.subscribers import SECRET_CONTEXT, reader_of
from tulou.exchange.webhook_urls import AllowList, parse_allow_list, resolve_target
from tulou.identity.crypto import PersonalDataCipher, UnreadableToken
from tulou.settings import CoreSettings, ExchangeSettings

log = logging.getLogger(__name__)
USER_AGENT = "Tulou-Webhooks/1"
ERROR_LENGTH = 500
REVOKED = "not sent: the subscriber may no longer read this change"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Tulou-Signature`` header: HMAC-SHA256 under the secret of ``"<timestamp>.<body>"``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff(attempts: int, settings: ExchangeSettings) -> timedelta:
    """The wait after the ``attempts``-th failure: doubling from the base up to the cap, then 50-100 % of it."""
    ceiling = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** min(attempts - 1, 40))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


async def claim_due(settings: ExchangeSettings) -> list[Delivery]:
    """Take up to a batch of due deliveries of active subscriptions for this worker, for one lease."""
    now = _now()
    async with in_transaction():
        due = Delivery.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now, subscription__active=True) \
            .order_by("next_attempt_at", "id").limit(settings.batch_size)
        if connections.get("default").capabilities.dialect == "postgres":
            due = due.select_for_update(skip_locked=True, of=("core_delivery",))
        claimed = await due
        if claimed:
            await Delivery.filter(id__in=[d.id for d in claimed]).update(
                next_attempt_at=now + timedelta(seconds=settings.lease)
            )
    return claimed


@dataclass
class Sender:
    """What one round of sending needs: settings, the cipher for secrets, the allow-list and an HTTP client."""

    settings: ExchangeSettings
    cipher: PersonalDataCipher
    allow: AllowList
    client: httpx.AsyncClient

    @classmethod
    def from_settings(cls, settings: CoreSettings, client: httpx.AsyncClient) -> Sender:
        return cls(settings.exchange, PersonalDataCipher.from_settings(settings),
                   parse_allow_list(settings.exchange.webhook_allow), client)


def http_client(settings: ExchangeSettings) -> httpx.AsyncClient:
    """No redirects followed, no proxies from the environment: requests go exactly where they were checked."""
    return httpx.AsyncClient(timeout=settings.delivery_timeout_seconds, follow_redirects=False, trust_env=False)


async def deliver_due(settings: CoreSettings, client: httpx.AsyncClient) -> int:
    """Claim one batch and send it, subscriptions side by side; how many deliveries were claimed."""
    claimed = await claim_due(settings.exchange)
    if not claimed:
        return 0
    sender = Sender.from_settings(settings, client)
    by_subscription: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in sorted(claimed, key=lambda d: (d.subscription_id, d.seq, d.id)):
        by_subscription[delivery.subscription_id].append(delivery)
    await asyncio.gather(*(_send_in_order(sender, key, found) for key, found in by_subscription.items()))
    return len(claimed)


async def _send_in_order(sender: Sender, subscription_id: int, deliveries: list[Delivery]) -> None:
    """Send one subscription's share of the batch; after a failure the rest waits for the failed one's retry."""
    subscription = await Subscription.get_or_none(id=subscription_id).select_related("dataset")
    if subscription is None:
        return
    reader = await reader_of(subscription, subscription.dataset)
    try:
        secret = sender.cipher.decrypt(subscription.secret_cipher, SECRET_CONTEXT)
    except UnreadableToken as error:  # its key left the ring: no signature can be made, retrying will not help
        for delivery in deliveries:
            await _finish(delivery, status=DeliveryStatus.DEAD, last_error=_describe(error))
        return
    for n, delivery in enumerate(deliveries):
        retry_at = await _attempt(sender, subscription, secret, reader, delivery)
        if retry_at is not None:
            rest = [d.id for d in deliveries[n + 1:]]
            await Delivery.filter(id__in=rest, status=DeliveryStatus.PENDING).update(next_attempt_at=retry_at)
            return


def _visible_payload(payload: dict[str, Any], reader: DatasetAccess | None) -> dict[str, Any] | None:
    """The stored event cut again to what the subscriber may read now; ``None`` when it may not read it."""
    change = payload["change"]
    view = reader.view(change["area"]) if reader is not None else None
    if view is None:
        return None
    data = change["data"]
    return {**payload, "change": {**change, "data": None if data is None else view.cut(data)}}


async def _attempt(sender: Sender, subscription: Subscription, secret: str, reader: DatasetAccess | None,
                   delivery: Delivery) -> datetime | None:
    """Send one delivery and record the outcome; the time of its next attempt if it failed and will be retried."""
    payload = _visible_payload(delivery.payload, reader)
    if payload is None:
        await _finish(delivery, status=DeliveryStatus.DEAD, last_error=REVOKED)
        return None
    body = msgspec.json.encode(payload)
    try:
        status, answer = await _post(sender, subscription.url, secret, str(delivery.event_id), body)
    except (Problem, httpx.HTTPError, OSError) as error:
        return await _failed(sender.settings, delivery, None, _describe(error))
    if 200 <= status < 300:
        await _finish(delivery, status=DeliveryStatus.DELIVERED, attempts=delivery.attempts + 1,
                      last_status=status, last_error="", delivered_at=_now())
        return None
    return await _failed(sender.settings, delivery, status, answer)


async def _post(sender: Sender, url: str, secret: str, event_id: str, body: bytes) -> tuple[int, str]:
    """POST to the address just checked (DNS rebinding gains nothing), naming the host for ``Host`` and TLS.

    The answer's status, and the start of its body: a receiver cannot make the worker read more.
    """
    target = await resolve_target(url, sender.allow)
    headers = {
        "Content-Type": "application/json", "User-Agent": USER_AGENT, "Host": target.host_header,
        "Tulou-Event-Id": event_id, "Tulou-Signature": sign(secret, int(time.time()), body),
    }
    request = sender.client.build_request("POST", target.pinned_url, content=body, headers=headers,
                                          extensions={"sni_hostname": target.host})
    response = await sender.client.send(request, stream=True)
    try:
        answer = b""
        async for chunk in response.aiter_raw():
            answer += chunk
            if len(answer) >= ERROR_LENGTH:
                break
    finally:
        await response.aclose()
    return response.status_code, answer[:ERROR_LENGTH].decode(errors="replace")


def _describe(error: Exception) -> str:
    text = error.detail if isinstance(error, Problem) else f"{type(error).__name__}: {error}".rstrip(": ")
    return text[:ERROR_LENGTH]


async def _failed(settings: ExchangeSettings, delivery: Delivery, status: int | None, error: str) -> datetime | None:
    attempts = delivery.attempts + 1
    if attempts >= settings.max_attempts:
        await _finish(delivery, status=DeliveryStatus.DEAD, attempts=attempts, last_status=status, last_error=error)
        return None
    retry_at = _now() + backoff(attempts, settings)
    await _finish(delivery, attempts=attempts, last_status=status, last_error=error, next_attempt_at=retry_at)
    return retry_at


async def _finish(delivery: Delivery, **changes: Any) -> None:
    """Write an attempt's outcome, unless the delivery left the queue meanwhile (its subscription deleted)."""
    await Delivery.filter(id=delivery.id, status=DeliveryStatus.PENDING).update(**changes)


class DeliveryWorker:
    """Sends due deliveries in the background: in every process on PostgreSQL, in the job leader on SQLite."""

    def __init__(self, settings: CoreSettings, is_leader: Any) -> None:
        self.settings = settings
        self._is_leader = is_leader
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tulou deliveries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def _may_deliver(self) -> bool:
        return self.settings.is_postgres or bool(self._is_leader())

    async def _run(self) -> None:
        async with http_client(self.settings.exchange) as client:
            while True:
                claimed = 0
                try:
                    if self._may_deliver():
                        claimed = await deliver_due(self.settings, client)
                except Exception as error:  # noqa: BLE001 - a worker keeps going; the next round retries
                    log.error("delivering subscription events failed: %s", _describe(error))
                if claimed < self.settings.exchange.batch_size:
                    await asyncio.sleep(self.settings.exchange.poll_seconds)
