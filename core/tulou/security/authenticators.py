"""Turning a request's credentials into a :class:`Principal`.

Until the identity standard lands, the only authenticator is the bootstrap admin
token from ``TULOU_ADMIN_TOKEN``. Identity will add its own authenticator to the
list; guards and routes stay as they are.
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
