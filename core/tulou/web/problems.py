"""Every error leaves the server as an RFC 9457 problem body, never a stack trace."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from tulou.errors import Problem
from tulou.i18n import gettext as _

log = logging.getLogger("tulou.web")
PROBLEM_MEDIA_TYPE = "application/problem+json"


def _status_titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        401: _("Unauthorized"),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        412: _("Precondition failed"),
        413: _("Request body too large"),
        415: _("Unsupported media type"),
        422: _("Invalid input"),
        429: _("Too many requests"),
        500: _("Internal server error"),
        503: _("Service unavailable"),
    }


def problem_response(
    request: Request, status: int, detail: str, slug: str, errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None, extensions: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"urn:tulou:problem:{slug}",
        "title": _status_titles().get(status, _("Error")),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    body.update(extensions or {})
    request_id = request.scope.get("tulou_request_id")  # type: ignore[call-overload]
    if request_id:
        body["request_id"] = request_id
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def on_problem(request: Request, error: Problem) -> Response[dict[str, Any]]:
    return problem_response(
        request, error.status, error.detail, error.slug, error.errors,
        headers=dict(error.headers) or None, extensions=error.extensions,
    )


def on_validation_error(request: Request, error: ValidationException) -> Response[dict[str, Any]]:
    errors = [
        {"field": _field_of(item), "source": item.get("source"), "message": item.get("message")}
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict)
    ]
    fields = ", ".join(str(e["field"]) for e in errors if e["field"])
    detail = _("Invalid request: %(fields)s") % {"fields": fields or error.detail}
    return problem_response(request, 400, detail, "validation", errors)


BODY_PATH = re.compile(r"at `\$\.([^`]+)`")
MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _field_of(item: dict[str, Any]) -> str | None:
    """The body field a decoding error is about (``title``, ``items[0].name``), not just ``data``.

    msgspec names it only in the message: "... - at `$.title`" or "missing required field `title`".
    """
    key = item.get("key")
    message = str(item.get("message") or "")
    if item.get("source") != "body" and key != "data":
        return key
    path = BODY_PATH.search(message)
    missing = MISSING_FIELD.search(message)
    parts = [match.group(1) for match in (path, missing) if match]
    return ".".join(parts) if parts else key


def on_http_error(request: Request, error: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own errors (unknown path, wrong method, body too large) in the caller's language."""
    slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(error.status_code, "http-error")
    detail = _status_titles().get(error.status_code, error.detail)
    return problem_response(request, error.status_code, detail, slug, headers=error.headers)


def on_crash(request: Request, error: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(request, 500, _("Something went wrong; the error has been logged."), "internal")


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    Problem: on_problem,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_crash,
}
