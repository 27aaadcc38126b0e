"""Turning a request's credentials into a :class:`Principal`.

The bootstrap admin token from ``TULOU_ADMIN_TOKEN`` is tried first, then the
tokens accounts sign in for. Guards and routes never know which one answered.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from litestar.connection import ASGIConnection

from tulou.security.principal import ALL_PERMISSIONS, Principal


class Authenticator(Protocol):
    async def __call__(self, connection: ASGIConnection) -> Principal | None: ...


def bearer_token(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class BootstrapTokenAuthenticator:
    """Accepts the configured admin token as a principal holding every permission everywhere."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    async def __call__(self, connection: ASGIConnection) -> Principal | None:
        presented = bearer_token(connection)
        if not self._token or presented is None:
            return None
        if not hmac.compare_digest(presented.encode(), self._token.encode()):
            return None
        return Principal(
            id="bootstrap-admin",
            display_name="bootstrap admin",
            permissions=frozenset({ALL_PERMISSIONS}),
        )


class AccountTokenAuthenticator:
    """Accepts an access token issued by ``POST /api/v1/auth/token`` for an active account."""

    async def __call__(self, connection: ASGIConnection) -> Principal | None:
        from tulou.identity.auth import principal_for_token  # identity builds on security, not the reverse

        presented = bearer_token(connection)
        return None if presented is None else await principal_for_token(presented)


class ClientTokenAuthenticator:
    """Accepts an access token issued by ``POST /api/v1/oauth/token`` to an active system client."""

    async def __call__(self, connection: ASGIConnection) -> Principal | None:
        from tulou.identity.clients import principal_for_client_token  # identity builds on security

        presented = bearer_token(connection)
        return None if presented is None else await principal_for_client_token(presented)
