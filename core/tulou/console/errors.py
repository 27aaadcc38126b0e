"""Errors on console pages: a page in the layout, in the caller's language, never a problem body or a trace.

A missing or ended session is not an error page but a trip to the sign-in page and,
after signing in, back to where the browser was going.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template

from tulou.console.csrf import SESSION_COOKIE
from tulou.console.guards import SESSION_PRINCIPAL_KEY, SignInRequired
from tulou.console.layout import dropped_cookie, form_context, local_next, see_other, sign_in_url
from tulou.errors import Problem
from tulou.i18n import gettext as _

log = logging.getLogger("tulou.console")


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be understood"),
        403: _("You may not do this"),
        404: _("Page not found"),
        409: _("This cannot be done now"),
        422: _("Please check what you entered"),
        500: _("Something went wrong"),
        503: _("Not available right now"),
    }


def error_page(request: Request, status: int, detail: str) -> Template:
    """The error inside the layout, with the caller's name but no menu (it would need the database)."""
    context, cookies = form_context(request)
    context.update(principal=request.scope.get(SESSION_PRINCIPAL_KEY),  # type: ignore[call-overload]
                   status=status, heading=_titles().get(status, _("Something went wrong")), detail=detail)
    return Template("console/error.html", context=context, status_code=status, cookies=cookies,
                    media_type=MediaType.HTML)


def _returning_to(request: Request) -> str | None:
    """Where to go back after signing in: this page, or for a form the page it was sent from."""
    if request.method == "GET":
        query = request.url.query
        return local_next(request.url.path + (f"?{query}" if query else ""))
    referer = request.headers.get("referer", "")
    if referer.startswith(f"{request.base_url}".rstrip("/")):
        return local_next(referer[len(str(request.base_url).rstrip("/")):])
    return None


def on_sign_in_required(request: Request, error: SignInRequired) -> Response[Any]:
    flags = {"expired": "1"} if error.expired else {}
    target = sign_in_url(_returning_to(request), **flags)
    cookies = [dropped_cookie(request, SESSION_COOKIE)] if error.expired else []
    if request.headers.get("hx-request") == "true":  # htmx swaps fragments: have it load the page instead
        return Response(b"", status_code=401, headers={"HX-Redirect": target}, cookies=cookies)
    return see_other(target, cookies)


def on_problem(request: Request, error: Problem) -> Response[Any]:
    return error_page(request, error.status, error.detail)


def on_validation_error(request: Request, error: ValidationException) -> Response[Any]:
    return error_page(request, 400, _("The form was incomplete. Go back and fill in every field."))


def on_http_error(request: Request, error: HTTPException) -> Response[Any]:
    return error_page(request, error.status_code, _titles().get(error.status_code, error.detail))


def on_crash(request: Request, error: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_page(request, 500, _("The error has been logged. Try again, or tell the county's IT staff."))


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    SignInRequired: on_sign_in_required,
    Problem: on_problem,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_crash,
}
