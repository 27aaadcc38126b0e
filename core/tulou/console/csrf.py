"""Cross-site request forgery: every form and htmx request carries a token only the console's own pages hold.

The token is an HMAC of a secret the browser keeps in an HttpOnly cookie: the session
token once signed in, before that a random value set with the sign-in page. Another
site can make the browser send the cookie but can read neither it nor the page, so it
cannot compute the token. Nothing is stored on the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tulou.errors import Forbidden
from tulou.i18n import gettext as _

SESSION_COOKIE = "tulou_session"
#: Holds the secret of forms shown before sign-in (the sign-in form, the language switch).
PRESESSION_COOKIE = "tulou_presession"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PURPOSE = b"tulou console form"


class FormExpired(Forbidden):
    """A form came without the token of the browser's current secret: forged, or older than the session."""

    slug = "form-expired"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token_for(secret: str) -> str:
    digest = hmac.new(secret.encode(), PURPOSE, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def form_secret(connection: ASGIConnection) -> str | None:
    """The secret this browser's forms are signed with: its session's, else the pre-session one."""
    return connection.cookies.get(SESSION_COOKIE) or connection.cookies.get(PRESESSION_COOKIE)


async def _sent_token(connection: ASGIConnection) -> str:
    header = connection.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type, _params = connection.content_type
    if content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await connection.form()  # type: ignore[attr-defined]  # kept by Litestar for the handler
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def csrf_protected(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """A guard refusing any request that changes something without the form token of the browser's secret."""
    if connection.scope["method"] in SAFE_METHODS:  # type: ignore[typeddict-item]
        return
    secret = form_secret(connection)
    sent = await _sent_token(connection)
    if secret is None or not hmac.compare_digest(sent.encode(), token_for(secret).encode()):
        raise FormExpired(_("This form has expired or did not come from this site. Reload the page and try again."))
