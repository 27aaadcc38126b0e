"""``Idempotency-Key``: a write sent twice with one key runs once, and the second gets the first's answer.

The key's row is inserted inside the write's own transaction, before the write. A
concurrent request with the same key therefore waits, on PostgreSQL at the unique
index and on SQLite at the connection's transaction lock, until the first commits,
then finds its stored answer and replays it (status, body, ``ETag``). It never gets
a 409 for being second, only for the rare race of a row gone in between. If the first
request fails, its transaction rolls back with the key, so only successful answers
are kept and a failed request can be sent again with the same key. The same key with
another method, path, body or caller is 422 naming the header. Keys are kept 24 hours
(:func:`purge_idempotency_keys`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from litestar import Request, Response
from litestar.serialization import encode_json
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tulou.errors import Conflict, Invalid
from tulou.exchange.models import IdempotentRequest
from tulou.i18n import gettext as _
from tulou.security.principal import Principal

KEY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
KEPT_FOR = timedelta(hours=24)
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADERS = ("etag", "location")

#: Tells the hex SHA-256 of the request body, read whole or streamed.
BodyDigest = Callable[[], Awaitable[str]]


class _KeyTaken(Exception):
    """Another request holds the key: its answer is read after this transaction rolls back."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _request_key(request: Request) -> str | None:
    key = request.headers.get(KEY_HEADER)
    if key is not None and not KEY_PATTERN.match(key):
        raise Invalid(_("An Idempotency-Key is 1 to 255 visible ASCII characters"), field=KEY_HEADER)
    return key


def fingerprint(request: Request, principal: Principal, body_digest: str) -> str:
    """What makes two requests the same request: method, path with query, caller and body."""
    url = request.url
    text = "\n".join((request.method, url.path, url.query or "", principal.id, body_digest))
    return hashlib.sha256(text.encode()).hexdigest()


def whole_body_digest(request: Request) -> BodyDigest:
    async def digest() -> str:
        return hashlib.sha256(await request.body()).hexdigest()

    return digest


def _rendered(response: Response[Any]) -> tuple[bytes, dict[str, str]]:
    content = response.content
    body = content if isinstance(content, bytes) else b"" if content is None else encode_json(content)
    headers = {name: str(value) for name, value in response.headers.items() if name.lower() in REPLAYED_HEADERS}
    return body, headers


def _replay(row: IdempotentRequest, expected: str) -> Response[bytes]:
    if row.fingerprint != expected:
        raise Invalid(_("This Idempotency-Key was already used for another request"), field=KEY_HEADER)
    body = bytes(row.response_body or b"")
    return Response(
        content=body, status_code=row.response_status or 200, media_type="application/json",
        headers={**row.response_headers, REPLAY_HEADER: "true"},
    )


async def _stored(principal: Principal, key: str) -> IdempotentRequest | None:
    return await IdempotentRequest.get_or_none(principal=principal.id, key=key, created_at__gt=_now() - KEPT_FOR)


async def _claim(principal: Principal, key: str) -> IdempotentRequest:
    """The key's row, inserted in the current transaction; an expired row of the same key makes way first."""
    await IdempotentRequest.filter(principal=principal.id, key=key, created_at__lte=_now() - KEPT_FOR).delete()
    try:
        return await IdempotentRequest.create(principal=principal.id, key=key, fingerprint="", created_at=_now())
    except IntegrityError:
        raise _KeyTaken() from None


async def _answer(produce: Callable[[], Awaitable[Any]]) -> Response[Any]:
    answer = await produce()
    return answer if isinstance(answer, Response) else Response(answer)


async def once(request: Request, principal: Principal, produce: Callable[[], Awaitable[Any]],
               body_digest: BodyDigest | None = None) -> Response[Any]:
    """``produce()``'s answer (a response, or a body sent with the route's status), or, when the
    ``Idempotency-Key`` was seen, the stored first one.

    ``body_digest`` defaults to hashing the body Litestar already read; a streamed
    import passes one that hashes the stream as it is read.
    """
    key = _request_key(request)
    if key is None:
        return await _answer(produce)
    digest = body_digest or whole_body_digest(request)
    found = await _stored(principal, key)
    if found is not None and found.response_status is not None:
        return _replay(found, fingerprint(request, principal, await digest()))
    try:
        async with in_transaction():
            row = await _claim(principal, key)
            response = await _answer(produce)
            row.response_body, row.response_headers = _rendered(response)
            row.response_status = response.status_code or request.route_handler.status_code
            row.fingerprint = fingerprint(request, principal, await digest())
            await row.save()
    except _KeyTaken:
        found = await _stored(principal, key)
        if found is None or found.response_status is None:
            raise Conflict(_("A request with this Idempotency-Key is in progress: try again"), field=KEY_HEADER) from None
        return _replay(found, fingerprint(request, principal, await digest()))
    return response


async def purge_idempotency_keys() -> int:
    """Forget keys older than a day: the number of rows deleted."""
    return await IdempotentRequest.filter(created_at__lte=_now() - KEPT_FOR).delete()
