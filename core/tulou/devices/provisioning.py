"""Provisioning keys, and devices claiming their place with one in the field.

Staff make a key for one model, one village and one owner, good for a number of
devices until it expires; the installer's phone or the device itself then claims
with the key and the serial number printed on the device, and gets the device's id
and token once. The key is kept only as its SHA-256 and shown once.

Claiming the same serial number again with the same key, before the device has ever
sent a reading, hands out a new token for the same device instead of refusing: a
field installer whose answer was lost on a weak network can simply try again, and the
first token stops working. Once the device has reported, or for another key, the
serial number is taken (409): a model never has two devices with one serial number.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.devices import clock
from tulou.devices.catalogue import get_model
from tulou.devices.credentials import new_device_token
from tulou.devices.models import Device, DeviceModel, DeviceStatus, ProvisioningKey
from tulou.devices.registry import Rekeyed, coordinates, insert_device, owner_in_scope
from tulou.devices.schemas import ClaimIn, ProvisioningKeyIn, ProvisioningKeyOut
from tulou.errors import Conflict, Invalid, InvalidToken, NotFound, Unauthorized
from tulou.i18n import gettext as _
from tulou.identity.auth import token_hash
from tulou.identity.scope import area_in_scope, in_area, within
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed

KEY_PREFIX = "tlp."
DEFAULT_LIFETIME = timedelta(days=7)
LONGEST_LIFETIME = timedelta(days=366)


def _actor(key: ProvisioningKey) -> str:
    return f"provisioning_key:{key.id}"


def _expiry(requested: datetime | None) -> datetime:
    now = clock.now()
    if requested is None:
        return now + DEFAULT_LIFETIME
    if requested.tzinfo is None:
        raise Invalid(_("Give the time with its offset from UTC"), field="expiresAt")
    if not now < requested <= now + LONGEST_LIFETIME:
        raise Invalid(_("A key expires in the future, within a year"), field="expiresAt")
    return requested


async def create_key(principal: Principal, data: ProvisioningKeyIn) -> tuple[ProvisioningKey, str]:
    """A key for installers to claim devices into a village the caller covers; its value is shown this once."""
    village = await area_in_scope(principal, data.area, "area", village=True)
    try:
        model = await get_model(data.model)
    except NotFound:
        raise Invalid(_("Unknown device model %(model)s") % {"model": data.model}, field="model") from None
    owner = await owner_in_scope(principal, data.owner)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    async with in_transaction():
        key = await ProvisioningKey.create(
            key_hash=token_hash(secret), label=data.label.strip(), model=model, area=village, organisation_id=owner,
            uses_left=data.uses, expires_at=_expiry(data.expires_at), created_by=principal.id,
        )
        await record_audit(principal.id, "provisioning_key.created", area_code=village.code,
                           target_type="provisioning_key", target_id=str(key.id),
                           detail={"model": model.key, "uses": data.uses})
    key.model = model
    return key, secret


def visible_keys(principal: Principal) -> QuerySet[ProvisioningKey]:
    return ProvisioningKey.filter(within(principal, "area_id"))


async def list_keys(
    principal: Principal, area: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[ProvisioningKey], int]:
    query = visible_keys(principal)
    if area is not None:
        query = query.filter(await in_area(principal, area, "area_id"))
    return await query.select_related("model").order_by("-id").offset(offset).limit(limit), await query.count()


async def revoke_key(principal: Principal, key_id: int) -> ProvisioningKey:
    """No more claims with this key; devices already claimed keep working."""
    key = await visible_keys(principal).get_or_none(id=key_id).select_related("model")
    if key is None:
        raise NotFound(_("Provisioning key not found"), field="key_id")
    if not key.revoked:
        async with in_transaction():
            await ProvisioningKey.filter(id=key.id).update(revoked=True)
            await record_audit(principal.id, "provisioning_key.revoked", area_code=key.area_id,
                               target_type="provisioning_key", target_id=str(key.id))
        key.revoked = True
    return key


def key_out(key: ProvisioningKey) -> ProvisioningKeyOut:
    return ProvisioningKeyOut(
        id=key.id, label=key.label, model=key.model.key, area=key.area_id, owner=key.organisation_id,
        uses_left=key.uses_left, expires_at=key.expires_at, revoked=key.revoked, created_by=key.created_by,
        date_created=key.created_at,
    )


# -- claiming ------------------------------------------------------------------------


def _refused() -> Unauthorized:
    return InvalidToken(_("The provisioning key is invalid, expired or used up"))


async def _key_for(secret: str | None) -> ProvisioningKey:
    """The stored key, live or not: a re-claim is allowed on a key used up by that very claim."""
    if secret is None:
        raise Unauthorized(_("Send the provisioning key as a bearer token"))
    key = await ProvisioningKey.get_or_none(key_hash=token_hash(secret)).select_related("model")
    if key is None or key.revoked or key.expires_at <= clock.now():
        raise _refused()
    return key


def _reclaimable(key: ProvisioningKey, device: Device) -> bool:
    """Claimed with this key, still in its village (staff may have moved it since, even to another
    township), active and silent: only then has the installer merely lost the answer."""
    return (device.provisioning_key_id == key.id and device.area_id == key.area_id and device.last_seen_at is None
            and device.status is DeviceStatus.ACTIVE)


async def _reclaim(key: ProvisioningKey, device: Device, rekeyed: Rekeyed | None) -> tuple[Device, str]:
    """The same key claiming the same serial before the device ever reported: a new token for it."""
    if not _reclaimable(key, device):
        raise Conflict(_("A device of this model with this serial number is registered"), field="serialNumber")
    token = new_device_token()
    if rekeyed is not None:
        await rekeyed(device.uid, device.status, token_hash(token))
    async with in_transaction():
        await Device.filter(id=device.id).update(token_hash=token_hash(token), token_version=F("token_version") + 1)
        await record_audit(_actor(key), "device.reclaimed", area_code=device.area_id, target_type="device",
                           target_id=device.uid)
    await principals_changed()
    device.model = key.model
    return device, token


async def claim(secret: str | None, data: ClaimIn, rekeyed: Rekeyed | None = None) -> tuple[Device, str]:
    """Register a device with a provisioning key: its id and token, shown this once (``rekeyed``: as for
    :func:`~tulou.devices.registry.rotate_token`, when a claim re-keys)."""
    key = await _key_for(secret)
    model: DeviceModel = key.model
    serial = data.serial_number.strip()
    existing = await Device.get_or_none(model_id=model.id, serial_number=serial).select_related("gateway")
    if existing is not None:
        return await _reclaim(key, existing, rekeyed)
    fields = {
        "serial_number": serial, "name": (data.name or f"{model.model_name} {serial}").strip(),
        "area_id": key.area_id, "organisation_id": key.organisation_id, "provisioning_key_id": key.id,
        "firmware_version": data.firmware_version, **coordinates(data.location),
    }
    async with in_transaction():
        spent = await ProvisioningKey.filter(id=key.id, uses_left__gt=0, revoked=False).update(
            uses_left=F("uses_left") - 1)
        if not spent:
            raise _refused()
        return await insert_device(_actor(key), model, fields)
