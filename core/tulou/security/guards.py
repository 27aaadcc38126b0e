"""Route guards: the one place that decides whether a caller may use a route.

Routes declare what they need (``guards=[requires("modules:manage")]``); the
authenticators behind :func:`current_principal` decide who the caller is.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from tulou.errors import Forbidden, InvalidToken, NotFound, Unauthorized
from tulou.i18n import gettext as _
from tulou.security.authenticators import bearer_token
from tulou.security.principal import Principal

PRINCIPAL_KEY = "tulou_principal"

#: ``opt`` marking a route that anyone may call (health checks, reference data, a
#: village's notice board). Every other route must carry a guard; a test enforces it.
PUBLIC: dict[str, bool] = {"public": True}


async def current_principal(connection: ASGIConnection) -> Principal | None:
    """The caller, authenticated once per request and remembered in the request scope."""
    if PRINCIPAL_KEY in connection.scope:
        return connection.scope[PRINCIPAL_KEY]  # type: ignore[literal-required]
    principal = await _authenticate(connection)
    connection.scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]
    return principal


async def _authenticate(connection: ASGIConnection) -> Principal | None:
    """Ask the cache, then each authenticator in turn; remember what a token resolved to."""
    platform = connection.app.state.platform
    token = bearer_token(connection)
    if token is not None and (cached := platform.principal_cache.get(token)) is not None:
        return cached
    stamp = platform.principal_cache.stamp()
    for authenticate in platform.authenticators:
        principal = await authenticate(connection)
        if principal is not None:
            if token is not None:
                platform.principal_cache.put(token, principal, stamp)
            return principal
    return None


def unauthenticated(connection: ASGIConnection) -> Unauthorized:
    """The 401 for a caller nobody recognised; a token that was sent is called invalid (RFC 6750 §3.1)."""
    if bearer_token(connection) is None:
        return Unauthorized(_("Sign-in required: send a bearer token"))
    return InvalidToken(_("The token is invalid or has expired"))


def requires(permission: str) -> Guard:
    """A guard admitting callers that hold ``permission`` for the route's area, if it has one.

    An area outside the caller's subtrees answers 404 so its existence does not leak.
    The route then sees the caller narrowed to the areas where ``permission`` is held.
    """

    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        principal = await current_principal(connection)
        if principal is None:
            raise unauthenticated(connection)
        area = connection.path_params.get("area") or connection.path_params.get("code")
        if area and not principal.covers(str(area)):
            raise NotFound(_("Area not found"), field="area")
        if not principal.has_permission(permission, str(area) if area else None):
            raise Forbidden(_("You do not have the permission %(permission)s") % {"permission": permission})
        connection.scope[PRINCIPAL_KEY] = principal.narrowed_to(permission)  # type: ignore[literal-required]

    guard.__qualname__ = f"requires({permission!r})"
    return guard


async def signed_in(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """A guard admitting any authenticated caller, for routes about the caller itself."""
    if await current_principal(connection) is None:
        raise unauthenticated(connection)
