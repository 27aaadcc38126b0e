"""Turning a request's credentials into a :class:`Principal`.

Each authenticator recognises one kind of credential, such as the tokens accounts
sign in for. Guards and routes never know which one answered.
"""

from __future__ import annotations

from typing import Protocol

from litestar.connection import ASGIConnection

from tulou.security.principal import Principal

#: Prefixes of device tokens and provisioning keys (tulou.devices), which no staff route accepts.
NOT_STAFF_TOKENS = ("tld.", "tlp.")


class Authenticator(Protocol):
    async def __call__(self, connection: ASGIConnection) -> Principal | None: ...


def bearer_token(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class AccountTokenAuthenticator:
    """Accepts an access token issued by ``POST /api/v1/auth/token`` for an active account."""

    async def __call__(self, connection: ASGIConnection) -> Principal | None:
        from tulou.identity.auth import principal_for_token  # identity builds on security, not the reverse
        from tulou.identity.clients import is_client_token

        presented = bearer_token(connection)
        if presented is None or is_client_token(presented) or presented.startswith(NOT_STAFF_TOKENS):
            return None  # a dead client token, or a device's or installer's: no lookup wasted
        return await principal_for_token(presented)


class ClientTokenAuthenticator:
    """Accepts an access token issued by ``POST /api/v1/oauth/token`` to an active system client."""

    async def __call__(self, connection: ASGIConnection) -> Principal | None:
        from tulou.identity.clients import principal_for_client_token  # identity builds on security

        presented = bearer_token(connection)
        return None if presented is None else await principal_for_client_token(presented)
