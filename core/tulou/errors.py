"""User-facing errors: each carries an HTTP status, a translated detail and, where it
applies, the field at fault. The web layer renders them as RFC 9457 problem bodies and
the CLI prints their detail on one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class Problem(Exception):
    """An error the caller can act on (4xx), never a crash.

    Subclasses that speak another protocol too (OAuth's token endpoint) add members to
    the body through :attr:`extensions` and response headers through :attr:`headers`.
    """

    status = 400
    slug = "bad-request"
    #: Headers the answer must carry, such as a 401's challenge.
    headers: Mapping[str, str] = MappingProxyType({})

    @property
    def extensions(self) -> dict[str, Any]:
        """Members of the problem body beyond RFC 9457's own, for this error."""
        return {}

    def __init__(self, detail: str, *, field: str | None = None, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = errors or ([{"field": field, "message": detail}] if field else [])


class NotFound(Problem):
    status = 404
    slug = "not-found"


class Conflict(Problem):
    status = 409
    slug = "conflict"


class Invalid(Problem):
    status = 422
    slug = "invalid"


class Unauthorized(Problem):
    """No credentials: the challenge names the scheme to retry with (RFC 9110 §11.6.1, RFC 6750 §3)."""

    status = 401
    slug = "unauthorized"
    headers = MappingProxyType({"WWW-Authenticate": "Bearer"})


class InvalidToken(Unauthorized):
    """A bearer token was sent but is unknown, expired or revoked: the client should refresh or sign in again."""

    headers = MappingProxyType({"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(Problem):
    status = 403
    slug = "forbidden"


class PreconditionFailed(Problem):
    """A conditional request (``If-Match``) whose condition no longer holds: someone wrote first."""

    status = 412
    slug = "precondition-failed"


class Unavailable(Problem):
    status = 503
    slug = "unavailable"
