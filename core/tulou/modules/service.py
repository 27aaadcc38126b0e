"""Switching modules on and off for townships, with the plugin's provision/suspend hooks."""

from __future__ import annotations

import inspect
from typing import Any

from tortoise.transactions import in_transaction

from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.audit.service import record_audit
from tulou.errors import Conflict, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.modules.models import ActivationAction, ActivationEvent, ModuleActivation
from tulou.platform import Platform
from tulou.plugins.manager import PluginRecord, describe_error
from tulou.plugins.manifest import ActivationPolicy


class ActivationFailed(Conflict):
    slug = "activation-failed"


def module_record(platform: Platform, plugin: str) -> PluginRecord:
    """The plugin behind a module name, if it is installed and working."""
    record = platform.plugins.get(plugin)
    if record is None:
        raise NotFound(_("No module named %(name)s is installed") % {"name": plugin}, field="plugin")
    if not record.usable:
        raise Conflict(
            _("Module %(name)s has failed: %(reason)s") % {"name": plugin, "reason": record.reason},
            field="plugin",
        )
    return record


async def township(code: str) -> Area:
    area = await Area.get_or_none(code=code)
    if area is None:
        raise NotFound(_("Area %(code)s not found") % {"code": code}, field="code")
    if area.level is not AreaLevel.TOWNSHIP:
        raise Invalid(_("Modules are enabled per township; %(code)s is not a township") % {"code": code}, field="code")
    return area


async def is_enabled(area: Area, record: PluginRecord) -> bool:
    if record.activation is ActivationPolicy.REQUIRED:
        return True
    return await ModuleActivation.exists(area=area, plugin=record.name)


async def activate_module(platform: Platform, code: str, plugin: str, actor: str) -> bool:
    """Enable ``plugin`` for township ``code``; returns False if it already was.

    The plugin's ``module_enabled`` hook runs in the same transaction, so a failure
    leaves neither the activation nor anything the hook wrote.
    """
    record = module_record(platform, plugin)
    area = await township(code)
    if await is_enabled(area, record):
        return False
    async with in_transaction():
        await ModuleActivation.create(area=area, plugin=plugin, enabled_by=actor)
        await ActivationEvent.create(area=area, plugin=plugin, action=ActivationAction.ENABLED, actor=actor)
        await _audit(actor, ActivationAction.ENABLED, area, plugin)
        await _run_hook(platform, plugin, "module_enabled", area=area, actor=actor)
    platform.activations.invalidate()
    return True


async def deactivate_module(platform: Platform, code: str, plugin: str, actor: str) -> bool:
    """Disable ``plugin`` for township ``code``; returns False if it was not on."""
    record = module_record(platform, plugin)
    area = await township(code)
    if record.activation is ActivationPolicy.REQUIRED:
        raise Conflict(_("Module %(name)s is required and cannot be disabled") % {"name": plugin}, field="plugin")
    async with in_transaction():
        deleted = await ModuleActivation.filter(area=area, plugin=plugin).delete()
        if not deleted:
            return False
        await ActivationEvent.create(area=area, plugin=plugin, action=ActivationAction.DISABLED, actor=actor)
        await _audit(actor, ActivationAction.DISABLED, area, plugin)
        await _run_hook(platform, plugin, "module_disabled", area=area, actor=actor)
    platform.activations.invalidate()
    return True


async def activate_automatic_modules(platform: Platform, area: Area, actor: str) -> None:
    """Enable every ``automatic`` module for a township that has just been created."""
    for record in platform.modules_with_policy(ActivationPolicy.AUTOMATIC):
        await ModuleActivation.create(area=area, plugin=record.name, enabled_by=actor)
        await ActivationEvent.create(area=area, plugin=record.name, action=ActivationAction.ENABLED, actor=actor)
        await _audit(actor, ActivationAction.ENABLED, area, record.name, automatic=True)
        await _run_hook(platform, record.name, "module_enabled", area=area, actor=actor)
    platform.activations.invalidate()


async def _audit(actor: str, action: ActivationAction, area: Area, plugin: str, automatic: bool = False) -> None:
    """Record the switch in the audit log, in the caller's transaction."""
    await record_audit(
        actor, f"module.{action.value}", area_code=area.code, target_type="module", target_id=plugin,
        detail={"automatic": True} if automatic else None,
    )


async def _run_hook(platform: Platform, plugin: str, hook: str, **kwargs: Any) -> None:
    try:
        result = platform.plugins.call_one(plugin, hook, **kwargs)
        if inspect.isawaitable(result):
            await result
    except Exception as error:  # noqa: BLE001 - foreign code; the transaction rolls back
        raise ActivationFailed(
            _("Module %(name)s refused: %(reason)s") % {"name": plugin, "reason": describe_error(error)}
        ) from error


async def module_states(platform: Platform, code: str, *, actor_shown: bool) -> list[dict[str, Any]]:
    """Every usable module with whether it is on for township ``code`` and when it was enabled.

    Who enabled it (``enabled_by``, an account or client id) only if ``actor_shown``: the
    list is public, and staff ids are not.
    """
    area = await township(code)
    activations = {a.plugin: a for a in await ModuleActivation.filter(area=area)}
    states = []
    for record in platform.plugins.usable():
        activation = activations.get(record.name)
        state = {
            "plugin": record.name,
            "activation": record.activation.value,
            "enabled": record.activation is ActivationPolicy.REQUIRED or activation is not None,
            "enabled_by": activation.enabled_by if activation else None,
            "enabled_at": activation.enabled_at.isoformat() if activation else None,
        }
        if not actor_shown:
            del state["enabled_by"]
        states.append(state)
    return states
