"""The console's own guard: who the browser's session belongs to, before the API's guards ask what they may do.

Pages then take the same ``requires(permission)`` and ``signed_in`` guards as the API's
routes, which find the caller this guard put in the request scope.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tulou.console.csrf import SESSION_COOKIE
from tulou.console.sessions import SessionPolicy, session_principal
from tulou.errors import Unauthorized
from tulou.i18n import gettext as _
from tulou.security.guards import PRINCIPAL_KEY
from tulou.security.principal import Principal

#: The caller as signed in, before any guard narrows it to one permission: the layout shows all of it.
SESSION_PRINCIPAL_KEY = "tulou_console_principal"


class SignInRequired(Unauthorized):
    """No live session: the console sends the browser to the sign-in page, then back."""

    slug = "sign-in-required"

    def __init__(self, detail: str, *, expired: bool) -> None:
        super().__init__(detail)
        self.expired = expired


def session_policy(connection: ASGIConnection) -> SessionPolicy:
    return SessionPolicy.from_settings(connection.app.state.platform.settings)


async def browser_principal(connection: ASGIConnection) -> Principal | None:
    """The account the session cookie signs in, remembered for the rest of the request."""
    if SESSION_PRINCIPAL_KEY not in connection.scope:
        token = connection.cookies.get(SESSION_COOKIE)
        principal = await session_principal(token, session_policy(connection)) if token else None
        connection.scope[SESSION_PRINCIPAL_KEY] = principal  # type: ignore[literal-required]
    return connection.scope[SESSION_PRINCIPAL_KEY]  # type: ignore[literal-required]


async def console_session(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Admit a browser with a live session (public pages excepted) and make it the request's caller.

    A bearer token opens no page: the caller is always the session's.
    """
    if handler.opt.get("public"):
        return
    principal = await browser_principal(connection)
    if principal is None:
        expired = SESSION_COOKIE in connection.cookies
        raise SignInRequired(_("Your session has ended. Sign in again to continue.") if expired
                             else _("Sign in to continue."), expired=expired)
    connection.scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]


def session_holding(connection: ASGIConnection, permission: str) -> Principal:
    """The signed-in caller narrowed to ``permission``, as the API's guard for it would hand it on.

    A page guarded by one permission may show what another allows (the accounts list
    shows the form to create one): it asks the service as that permission's guard would.
    """
    principal: Principal = connection.scope[SESSION_PRINCIPAL_KEY]  # type: ignore[literal-required]
    return principal.narrowed_to(permission)


def session_may(connection: ASGIConnection, permission: str, area: str | None = None) -> bool:
    """Whether the signed-in caller holds ``permission`` somewhere, or in ``area``: whether to show its form."""
    principal: Principal | None = connection.scope.get(SESSION_PRINCIPAL_KEY)  # type: ignore[call-overload]
    return principal is not None and principal.has_permission(permission, area)
