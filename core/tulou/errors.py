"""User-facing errors: each carries an HTTP status, a translated detail and, where it
applies, the field at fault. The web layer renders them as RFC 9457 problem bodies and
the CLI prints their detail on one line.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """An error the caller can act on (4xx), never a crash."""

    status = 400
    slug = "bad-request"

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
    status = 401
    slug = "unauthorized"


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
