"""Device models: the ones plugins register, kept in step at start-up, and the ones the county adds.

Models are county-wide reference data: every caller who may read devices may read
them, and only a caller holding ``device_model:manage`` over the whole county may add
or change one. A plugin's models change only with the plugin.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from tulou.areas.models import Area
from tulou.audit.service import record_audit
from tulou.errors import Conflict, Forbidden, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.devices.alert_rules import RuleError, parse_rules, rules_json, stored_rules
from tulou.devices.models import DeviceModel
from tulou.devices.schemas import DeviceModelIn, DeviceModelOut, DeviceModelPatch
from tulou.devices.telemetry_schema import SchemaError, parse_properties, schema_json
from tulou.plugins.registrations import DeviceModelSpec
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed

log = logging.getLogger(__name__)

MANAGE = "device_model:manage"
#: FIWARE DeviceModel categories a village meets, and Tulou's own (camera, terminal, gateway).
CATEGORIES = ("sensor", "meter", "camera", "actuator", "terminal", "gateway", "beacon", "multimedia", "network", "other")
PROTOCOLS = ("http", "mqtt")
MODEL_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def model_fields(
    category: str, manufacturer: str, model_name: str, telemetry: Mapping[str, Any], heartbeat_seconds: int,
    brand: str = "", description: str = "", protocols: Iterable[str] = ("http",), alert_rules: Iterable[Any] = (),
) -> dict[str, Any]:
    """The stored columns of a model, checked; :class:`SchemaError` names the first problem."""
    if category not in CATEGORIES:
        raise SchemaError(f"category must be one of {', '.join(CATEGORIES)}")
    if not manufacturer.strip() or not model_name.strip():
        raise SchemaError("manufacturer and model name are required")
    if not 10 <= heartbeat_seconds <= 7 * 86400:
        raise SchemaError("heartbeat must be between 10 seconds and a week")
    wanted = sorted(set(protocols))
    if not wanted or any(protocol not in PROTOCOLS for protocol in wanted):
        raise SchemaError(f"protocols must be some of {', '.join(PROTOCOLS)}")
    properties = parse_properties(telemetry)
    return {
        "category": category, "manufacturer": manufacturer.strip(), "model_name": model_name.strip(),
        "brand": brand.strip(), "description": description, "heartbeat_seconds": heartbeat_seconds,
        "properties": schema_json(properties), "protocols": wanted,
        "alert_rules": rules_json(parse_rules(msgspec.to_builtins(list(alert_rules)), properties)),
    }


def check_model_key(key: str) -> str:
    if not (2 <= len(key) <= 64 and key[0].isascii() and key[0].isalpha() and set(key) <= MODEL_KEY_CHARS):
        raise SchemaError("model id must be 2 to 64 lower-case letters, digits, '_', '.' or '-', starting with a letter")
    return key


def spec_fields(spec: DeviceModelSpec) -> dict[str, Any]:
    """A plugin's registered model as stored columns; raising here fails the plugin."""
    check_model_key(spec.id)
    return model_fields(
        spec.category, spec.manufacturer, spec.model, spec.telemetry, spec.heartbeat_seconds,
        spec.brand, spec.description, spec.protocols, spec.alert_rules,
    )


def model_out(model: DeviceModel) -> DeviceModelOut:
    return DeviceModelOut(
        id=model.key, category=model.category, manufacturer_name=model.manufacturer, brand_name=model.brand,
        model_name=model.model_name, description=model.description, controlled_property=sorted(model.properties),
        telemetry=dict(sorted(model.properties.items())), heartbeat_seconds=model.heartbeat_seconds,
        supported_protocol=model.protocols, alert_rules=stored_rules(model.alert_rules),
        source=f"plugin:{model.plugin}" if model.plugin else "county", version=model.version,
        date_modified=model.updated_at,
    )


# -- plugins' models ---------------------------------------------------------------


async def _sync_one(plugin: str, spec: DeviceModelSpec) -> bool:
    """Create or update one plugin model; whether a stored model changed."""
    fields = spec_fields(spec)
    existing = await DeviceModel.get_or_none(key=spec.id)
    if existing is None:
        await DeviceModel.create(key=spec.id, plugin=plugin, **fields)
        return False
    if existing.plugin != plugin:
        log.warning("device model %s of plugin %s is ignored: the id is taken by %s",
                    spec.id, plugin, existing.plugin or "the county")
        return False
    if all(getattr(existing, name) == value for name, value in fields.items()):
        return False
    await DeviceModel.filter(id=existing.id).update(**fields, version=F("version") + 1)
    return True


async def sync_plugin_models(models: Mapping[str, Iterable[DeviceModelSpec]]) -> None:
    """Bring the stored models of every working plugin in line with what it registers now.

    Models a plugin no longer registers stay, since devices may still be of them.
    """
    changed = False
    for plugin, specs in sorted(models.items()):
        for spec in specs:
            changed |= await _sync_one(plugin, spec)
    if changed:
        await principals_changed()  # devices' cached credentials carry their model's version


# -- the county's models -------------------------------------------------------------


async def _require_county_wide(principal: Principal) -> None:
    """403 unless the caller holds ``device_model:manage`` in every root area: models serve every township."""
    roots = await Area.filter(parent_id=None).values_list("code", flat=True)
    if not roots or not all(principal.has_permission(MANAGE, root) for root in roots):
        raise Forbidden(_("Only the county can manage device models"))


def _field_of(error: SchemaError) -> str:
    return "alertRules" if isinstance(error, RuleError) else "telemetry"


def _invalid(error: SchemaError, field: str) -> Invalid:
    return Invalid(_("The device model is invalid: %(reason)s") % {"reason": str(error)}, field=field)


async def get_model(key: str) -> DeviceModel:
    model = await DeviceModel.get_or_none(key=key)
    if model is None:
        raise NotFound(_("Device model not found"), field="model_id")
    return model


async def list_models(category: str | None = None) -> list[DeviceModel]:
    query = DeviceModel.all() if category is None else DeviceModel.filter(category=category)
    return await query.order_by("key")


async def create_model(principal: Principal, data: DeviceModelIn) -> DeviceModel:
    await _require_county_wide(principal)
    try:
        fields = model_fields(
            data.category, data.manufacturer_name, data.model_name, data.telemetry, data.heartbeat_seconds,
            data.brand_name, data.description, data.supported_protocol, data.alert_rules,
        )
    except SchemaError as error:
        raise _invalid(error, _field_of(error)) from None
    try:
        async with in_transaction():
            model = await DeviceModel.create(key=data.id, **fields)
            await record_audit(principal.id, "device_model.created", target_type="device_model", target_id=data.id)
    except IntegrityError:
        raise Conflict(_("A device model with this id exists"), field="id") from None
    return model


def _patched(model: DeviceModel, patch: DeviceModelPatch) -> dict[str, Any]:
    given = {name: value for name, value in msgspec.structs.asdict(patch).items() if value is not msgspec.UNSET}
    return model_fields(
        given.get("category", model.category), given.get("manufacturer_name", model.manufacturer),
        given.get("model_name", model.model_name), given.get("telemetry", model.properties),
        given.get("heartbeat_seconds", model.heartbeat_seconds), given.get("brand_name", model.brand),
        given.get("description", model.description), given.get("supported_protocol", model.protocols),
        given.get("alert_rules", model.alert_rules),
    )


async def update_model(principal: Principal, key: str, patch: DeviceModelPatch) -> DeviceModel:
    """Change a county model; its new version applies to the next reading of every device of it."""
    await _require_county_wide(principal)
    model = await get_model(key)
    if model.plugin:
        raise Conflict(_("This model belongs to the plugin %(plugin)s and changes with it") % {"plugin": model.plugin})
    try:
        fields = _patched(model, patch)
    except SchemaError as error:
        raise _invalid(error, _field_of(error)) from None
    changes = {name: value for name, value in fields.items() if getattr(model, name) != value}
    if not changes:
        return model
    async with in_transaction():
        await DeviceModel.filter(id=model.id).update(**changes, version=F("version") + 1)
        await record_audit(principal.id, "device_model.changed", target_type="device_model", target_id=key,
                           detail={"changed": sorted(changes)})
    await principals_changed()
    return await get_model(key)
