"""A subscriber's endpoint for tests: a real HTTP server on 127.0.0.1 that can be told to fail."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    event_id: str
    signature: str
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        parts = dict(part.split("=", 1) for part in self.signature.split(","))
        expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["v1"])


@dataclass
class Receiver:
    """Answers 500 to the next ``failures`` requests, then 204; keeps every request."""

    url: str = ""
    failures: int = 0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, event_id: str, signature: str, body: bytes) -> int:
        with self.lock:
            status = 500 if self.failures > 0 else 204
            self.failures = max(0, self.failures - 1)
            self.requests.append(Received(event_id, signature, body, status))
            return status

    @property
    def delivered(self) -> list[Received]:
        return [request for request in self.requests if request.answered == 204]

    def counts(self) -> Counter[str]:
        return Counter(request.event_id for request in self.requests)


@contextmanager
def receiver_running(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """``receiver`` (a plain :class:`Receiver` by default) listening on a free port of 127.0.0.1."""
    receiver = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.take(self.headers.get("Tulou-Event-Id", ""), self.headers.get("Tulou-Signature", ""), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tulou"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def deliver_round(app: Any) -> int:
    """One worker round as the background worker would run it, with every waiting delivery due now.

    Backoff is skipped by moving the due time, not by waiting: no test sleeps.
    """
    from datetime import datetime, timezone

    from tulou.exchange.delivery import deliver_due, http_client
    from tulou.exchange.models import Delivery, DeliveryStatus

    settings = app.state.platform.settings
    await Delivery.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=datetime.now(timezone.utc))
    async with http_client(settings.exchange) as client:
        return await deliver_due(settings, client)


async def deliver_until_settled(app: Any, rounds: int = 20) -> int:
    """Rounds until nothing is waiting; how many rounds claimed something."""
    from tulou.exchange.models import Delivery, DeliveryStatus

    busy = 0
    for _round in range(rounds):
        if not await Delivery.filter(status=DeliveryStatus.PENDING).exists():
            return busy
        busy += bool(await deliver_round(app))
    raise AssertionError("deliveries still waiting after %d rounds" % rounds)
