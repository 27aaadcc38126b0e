"""Signing in and out of the console, changing one's password, and switching the language.

Sign-in goes through the same account service as ``POST /api/v1/auth/token``; signing
out and changing the password revoke every token of the account, as the API's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery

from tulou.console.csrf import PRESESSION_COOKIE, SESSION_COOKIE
from tulou.console.forms import Form
from tulou.console.guards import browser_principal, session_policy
from tulou.console.layout import (
    CONSOLE, SIGN_IN, console_cookie, dropped_cookie, local_next, page, secure_cookies, see_other, sign_in_url,
)
from tulou.console.middleware import language_cookie
from tulou.console.sessions import open_session
from tulou.errors import Invalid, Unauthorized
from tulou.i18n import LOCALES
from tulou.i18n import gettext as _
from tulou.identity import accounts, auth
from tulou.identity.routes import caller
from tulou.security.guards import PUBLIC, signed_in


@dataclass
class SignInForm:
    username: str = ""
    password: str = ""
    next: str = ""


@dataclass
class PasswordForm:
    current_password: str = ""
    new_password: str = ""
    repeat_password: str = ""


@dataclass
class LanguageForm:
    lang: str = ""
    next: str = ""


class SessionController(Controller):
    path = CONSOLE
    tags = ["console"]
    include_in_schema = False

    @get("/sign-in", opt=PUBLIC)
    async def sign_in_page(self, request: Request, next: FromQuery[str | None] = None,
                           expired: FromQuery[bool] = False, changed: FromQuery[bool] = False) -> Any:
        if await browser_principal(request) is not None:
            return see_other(local_next(next) or f"{CONSOLE}/")
        notice = _("Your session has ended. Sign in again to continue.") if expired else (
            _("Your password has been changed. Sign in with the new one.") if changed else None)
        return await page(request, "sign_in.html", next=local_next(next) or "", notice=notice, errors={},
                          username="")

    @post("/sign-in", opt=PUBLIC)
    async def sign_in(self, request: Request, data: Annotated[SignInForm, Form]) -> Any:
        errors = {}
        if not data.username.strip():
            errors["username"] = _("Enter your username")
        if not data.password:
            errors["password"] = _("Enter your password")
        if not errors:
            platform = request.app.state.platform
            try:
                token = await open_session(data.username.strip(), data.password, session_policy(request),
                                           auth.TokenPolicy.from_settings(platform.settings))
            except Unauthorized as refused:
                errors["form"] = refused.detail
            else:
                cookies = [console_cookie(request, SESSION_COOKIE, token), dropped_cookie(request, PRESESSION_COOKIE)]
                return see_other(local_next(data.next) or f"{CONSOLE}/", cookies)
        return await page(request, "sign_in.html", status=401 if "form" in errors else 422,
                          next=local_next(data.next) or "", notice=None, errors=errors, username=data.username)

    @post("/sign-out", guards=[signed_in])
    async def sign_out(self, request: Request) -> Any:
        await auth.logout(await caller(request))
        return see_other(SIGN_IN, [dropped_cookie(request, SESSION_COOKIE)])

    @get("/password", guards=[signed_in])
    async def password_page(self, request: Request) -> Any:
        return await page(request, "password.html", errors={})

    @post("/password", guards=[signed_in])
    async def change_password(self, request: Request, data: Annotated[PasswordForm, Form]) -> Any:
        errors = {}
        if data.new_password != data.repeat_password:
            errors["repeat_password"] = _("The two new passwords differ")
        else:
            try:
                await accounts.change_password(await caller(request), data.current_password, data.new_password)
            except Invalid as refused:
                errors[refused.field or "form"] = refused.detail
            else:  # every token of the account is revoked, this session's too
                return see_other(sign_in_url(changed="1"), [dropped_cookie(request, SESSION_COOKIE)])
        return await page(request, "password.html", status=422, errors=errors)

    @post("/language", opt=PUBLIC)
    async def switch_language(self, request: Request, data: Annotated[LanguageForm, Form]) -> Response[Any]:
        if data.lang not in LOCALES:
            raise Invalid(_("Unknown language"), field="lang")
        return see_other(local_next(data.next) or f"{CONSOLE}/", [language_cookie(data.lang, secure_cookies(request))])
