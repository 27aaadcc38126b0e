"""What every console page has around its own content, and the cookies and redirects pages answer with.

The layout shows who is signed in and for which areas, the menu of pages they may
open, the language switch, and the form token every form and htmx request sends back.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Redirect, Template

from tulou.areas.models import Area
from tulou.console.csrf import PRESESSION_COOKIE, form_secret, new_secret, token_for
from tulou.console.guards import SESSION_PRINCIPAL_KEY
from tulou.console.menu import CONSOLE, current_entry, visible_menu
from tulou.console.templating import area_label
from tulou.i18n import current_locale
from tulou.security.principal import Principal

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = f"{CONSOLE}/static"
SIGN_IN = f"{CONSOLE}/sign-in"
#: locale -> (the ``lang`` attribute, the language's name in itself)
LANGUAGES = {"zh_CN": ("zh-CN", "中文"), "en": ("en", "English")}


@cache
def static_url(name: str) -> str:
    """A static file's URL, versioned by its content so browsers may keep it."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PATH}/{name}?v={digest}"


def secure_cookies(connection: ASGIConnection) -> bool:
    """``Secure`` cookies over https, or always when ``TULOU_CONSOLE__SECURE_COOKIES`` says so."""
    setting = connection.app.state.platform.settings.console.secure_cookies
    return connection.url.scheme == "https" if setting is None else setting


def console_cookie(connection: ASGIConnection, key: str, value: str) -> Cookie:
    """An HttpOnly cookie for the console's paths only, ending with the browser session."""
    return Cookie(key=key, value=value, path=CONSOLE, httponly=True, samesite="lax",
                  secure=secure_cookies(connection))


def dropped_cookie(connection: ASGIConnection, key: str) -> Cookie:
    return Cookie(key=key, value="", path=CONSOLE, max_age=0, httponly=True, samesite="lax",
                  secure=secure_cookies(connection))


def local_next(value: str | None) -> str | None:
    """``value`` if it is a console page of this site, so sign-in cannot be made to send anyone elsewhere."""
    if not value or "\\" in value or value.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not (parts.path == CONSOLE or parts.path.startswith(f"{CONSOLE}/")):
        return None
    return value


def sign_in_url(next_page: str | None = None, **flags: str) -> str:
    query = {**({"next": next_page} if local_next(next_page) else {}), **flags}
    return f"{SIGN_IN}?{urlencode(query)}" if query else SIGN_IN


def see_other(url: str, cookies: list[Cookie] | None = None) -> Redirect:
    """After a form: the browser GETs ``url``, so reloading does not send the form again."""
    return Redirect(url, status_code=303, cookies=cookies or [])


def _here(connection: ASGIConnection) -> str:
    query = connection.url.query
    return connection.url.path + (f"?{query}" if query else "")


def form_context(connection: ASGIConnection) -> tuple[dict[str, Any], list[Cookie]]:
    """The form token and language switch; a browser with no secret yet is given one."""
    cookies: list[Cookie] = []
    secret = form_secret(connection)
    if secret is None:
        secret = new_secret()
        cookies.append(console_cookie(connection, PRESESSION_COOKIE, secret))
    locale = current_locale.get()
    switch_to = next(code for code in LANGUAGES if code != locale)
    context = {
        "csrf": token_for(secret), "html_lang": LANGUAGES[locale][0], "locale": locale,
        "switch_to": switch_to, "switch_lang": LANGUAGES[switch_to][0], "switch_label": LANGUAGES[switch_to][1],
        "path": _here(connection), "static": static_url, "principal": None, "menu": [], "current": None,
        "where": "",
    }
    return context, cookies


async def _where(principal: Principal) -> str:
    """The names of the areas the caller works in."""
    if principal.area_roots is None:
        return ""
    areas = await Area.filter(code__in=list(principal.area_roots)).order_by("code")
    separator = ", " if current_locale.get() == "en" else "、"
    return separator.join(area_label(area) for area in areas)


async def page(request: Request, template: str, *, status: int = 200, headers: dict[str, str] | None = None,
               **context: Any) -> Template:
    """A full console page: ``console/<template>`` inside the layout, for the signed-in caller if any."""
    return await laid_out(request, f"console/{template}", status=status, headers=headers, **context)


async def laid_out(request: Request, name: str, /, *, status: int = 200, headers: dict[str, str] | None = None,
                   **context: Any) -> Template:
    """The template called ``name`` (a plugin's, too) with what the layout needs."""
    base, cookies = form_context(request)
    principal: Principal | None = request.scope.get(SESSION_PRINCIPAL_KEY)  # type: ignore[call-overload]
    if principal is not None:
        menu = await visible_menu(request.app.state.platform, request.app, principal)
        base.update(principal=principal, menu=menu, current=current_entry(menu, request.url.path),
                    where=await _where(principal))
    return Template(name, context={**base, **context}, status_code=status, cookies=cookies,
                    headers=headers, media_type=MediaType.HTML)


def fragment(request: Request, template: str, **context: Any) -> Template:
    """A piece of a page for htmx to swap in; it carries the form token, not the layout."""
    base, cookies = form_context(request)
    return Template(f"console/{template}", context={**base, **context}, cookies=cookies,
                    media_type=MediaType.HTML)
