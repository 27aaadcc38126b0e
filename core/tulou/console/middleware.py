"""Around every console request: the language the browser chose, and the headers every page carries."""

from __future__ import annotations

from litestar.datastructures import Cookie
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tulou.i18n import LOCALES, current_locale

LANGUAGE_COOKIE = "tulou_lang"

#: Scripts, styles and images come from the console's own static files only: no inline code
#: runs, so markup that slipped through escaping cannot run either. Nothing frames the console.
SECURITY_HEADERS = (
    (b"content-security-policy", (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
#: Pages show personal and operational data: no shared or back-button cache keeps them.
NO_STORE = (b"cache-control", b"no-store")
VARY = (b"vary", b"Cookie, HX-Request")


def cookie_locale(cookie_header: str, default: str) -> str:
    """The locale the language cookie names, if it is one the console speaks."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == LANGUAGE_COOKIE and value in LOCALES:
            return value
    return default


class ConsoleMiddleware:
    """Chinese unless the browser switched (the cookie), whatever ``Accept-Language`` says.

    The console is read by township staff on shared machines whose browsers may be set
    to anything; the switch they clicked is what counts.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        default = scope["app"].state.platform.settings.default_locale
        cookies = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"cookie"), "")
        current_locale.set(cookie_locale(cookies, default))
        is_static = scope.get("route_handler") is not None and scope["route_handler"].opt.get("static")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [*SECURITY_HEADERS] if is_static else [*SECURITY_HEADERS, NO_STORE, VARY]
                present = {name.lower() for name, _value in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def language_cookie(locale: str, secure: bool) -> Cookie:
    """Remembers the switch for a year, for the console's pages only."""
    return Cookie(key=LANGUAGE_COOKIE, value=locale, path="/console", max_age=365 * 24 * 3600, httponly=True,
                  secure=secure, samesite="lax")
