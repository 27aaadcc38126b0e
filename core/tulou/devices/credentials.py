"""Device ids and tokens, and recognising a device by its token on every telemetry request.

A device token (``tld.`` and 43 random characters) is random and long, so its SHA-256
is all that is kept. Only the telemetry routes accept it: the staff authenticators
turn it away unread. Each process remembers the devices of the tokens it has seen;
rotating, disabling or decommissioning a device calls
:func:`~tulou.security.principal_cache.principals_changed`, which empties this memory
in every process at once, exactly as it does for staff principals.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tulou.devices.models import Device, DeviceStatus
from tulou.errors import InvalidToken, Unauthorized
from tulou.i18n import gettext as _
from tulou.identity.auth import token_hash
from tulou.security.authenticators import bearer_token
from tulou.security.principal_cache import CredentialCache

DEVICE_ID_PREFIX = "dev_"
TOKEN_PREFIX = "tld."
DEVICE_KEY = "tulou_device"


def new_device_uid() -> str:
    """``dev_`` and 12 base32 letters (60 random bits): readable, and usable as an MQTT client id."""
    return DEVICE_ID_PREFIX + base64.b32encode(secrets.token_bytes(8)).decode().lower()[:12]


def new_device_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_device_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


@dataclass(frozen=True)
class DeviceCredential:
    """Who is sending: the device behind a live token, with what validating its readings needs."""

    device_id: int
    uid: str
    model_id: int
    model_version: int
    area: str


#: Devices by token digest. It shares the staff principals' change signal, so one
#: :func:`principals_changed` call revokes both kinds of credential everywhere.
DeviceTokenCache = CredentialCache[DeviceCredential]


def credential_of(device: Device) -> DeviceCredential:
    """What checking the readings of ``device`` (loaded with its model) needs."""
    return DeviceCredential(device.id, device.uid, device.model_id, device.model.version, device.area_id)


async def _load(digest: str) -> DeviceCredential | None:
    device = await Device.get_or_none(token_hash=digest).select_related("model")
    if device is None or device.status is not DeviceStatus.ACTIVE:
        return None
    return credential_of(device)


async def authenticate_device(token: str | None, cache: DeviceTokenCache) -> DeviceCredential:
    """The active device a token belongs to; 401 for none, unknown, revoked or another kind of token."""
    if token is None:
        raise Unauthorized(_("A device token is required"))
    if not is_device_token(token):
        raise InvalidToken(_("The device token is invalid or revoked"))
    digest = token_hash(token)
    if (known := cache.get(digest)) is not None:
        return known
    stamp = cache.stamp()
    credential = await _load(digest)
    if credential is None:
        raise InvalidToken(_("The device token is invalid or revoked"))
    cache.keep(digest, credential, stamp)
    return credential


async def device_token(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """A guard admitting requests that carry a live device token; the route reads the device with :func:`sender`."""
    cache: DeviceTokenCache = connection.app.state.devices.tokens
    credential = await authenticate_device(bearer_token(connection), cache)
    connection.scope[DEVICE_KEY] = credential  # type: ignore[literal-required]


def sender(connection: ASGIConnection) -> DeviceCredential:
    """The device the :func:`device_token` guard recognised."""
    return connection.scope[DEVICE_KEY]  # type: ignore[literal-required]
