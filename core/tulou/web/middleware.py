"""Per-request context: request id, locale, and one structured log line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from litestar.datastructures import Headers
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tulou.i18n import current_locale, negotiate

log = logging.getLogger("tulou.request")
REQUEST_ID_HEADER = "x-request-id"
ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Plain ASGI middleware, so it costs little on every request."""

    def __init__(self, app: ASGIApp, default_locale: str) -> None:
        self.app = app
        self.default_locale = default_locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        request_id = headers.get(REQUEST_ID_HEADER, "")
        if not ACCEPTABLE_REQUEST_ID.match(request_id):  # it is copied into logs and bodies
            request_id = uuid.uuid4().hex
        scope["tulou_request_id"] = request_id  # type: ignore[typeddict-unknown-key]
        current_locale.set(negotiate(_query_lang(scope), headers.get("accept-language"), self.default_locale))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


def _query_lang(scope: Scope) -> str | None:
    for pair in scope.get("query_string", b"").decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key == "lang" and value:
            return value
    return None
