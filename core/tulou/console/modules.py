"""What the modules page shows of each plugin for one township, and which townships a caller may manage.

Switching goes through :mod:`tulou.modules.service`, as ``PUT``/``DELETE
/api/v1/areas/{code}/modules/{plugin}`` do: same hooks, same audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.areas.service import in_subtrees
from tulou.console.actors import actor_names
from tulou.errors import NotFound
from tulou.i18n import gettext as _
from tulou.modules.models import ModuleActivation
from tulou.modules.service import township
from tulou.platform import Platform
from tulou.plugins.manager import PluginRecord
from tulou.plugins.manifest import ActivationPolicy
from tulou.plugins.registrations import Permission
from tulou.security.principal import Principal

MANAGE = "modules:manage"


@dataclass(frozen=True)
class ModuleCard:
    """One plugin as the township's administrator sees it: its manifest, its state here, what it grants."""

    name: str
    title: str
    description: str
    version: str | None
    requires_standard: str | None
    policy: ActivationPolicy
    working: bool
    reason: str | None
    permissions: tuple[Permission, ...]
    enabled: bool
    enabled_at: datetime | None
    enabled_by: str | None

    @property
    def can_enable(self) -> bool:
        return self.working and not self.enabled

    @property
    def can_disable(self) -> bool:
        return self.working and self.enabled and self.policy is not ActivationPolicy.REQUIRED


def policy_label(policy: ActivationPolicy) -> str:
    return {
        ActivationPolicy.OPTIONAL: _("Off until a township switches it on"),
        ActivationPolicy.AUTOMATIC: _("On for every new township"),
        ActivationPolicy.REQUIRED: _("Always on"),
    }[policy]


async def managed_townships(principal: Principal) -> list[Area]:
    """The townships where the caller may switch modules, and no other."""
    roots = principal.roots_holding(MANAGE)
    if roots == ():
        return []
    query = Area.filter(level=AreaLevel.TOWNSHIP)
    if roots is not None:
        query = query.filter(in_subtrees(roots, "code"))
    return await query.order_by("code")


def _card(platform: Platform, record: PluginRecord, activation: ModuleActivation | None,
          usernames: dict[str, str]) -> ModuleCard:
    manifest = record.manifest
    return ModuleCard(
        name=record.name,
        title=str(manifest.title) if manifest else record.name,
        description=str(manifest.description) if manifest else "",
        version=manifest.version if manifest else None,
        requires_standard=manifest.requires_standard if manifest else None,
        policy=record.activation,
        working=record.usable,
        reason=record.reason,
        permissions=tuple(platform.registry.permissions.get(record.name, ())),
        enabled=record.usable and (record.activation is ActivationPolicy.REQUIRED or activation is not None),
        enabled_at=activation.enabled_at if activation else None,
        enabled_by=usernames[activation.enabled_by] if activation else None,
    )


async def module_cards(platform: Platform, code: str) -> tuple[Area, list[ModuleCard]]:
    """Township ``code`` and every plugin the core found, working or failed, in name order."""
    area = await township(code)
    activations = {a.plugin: a for a in await ModuleActivation.filter(area=area)}
    usernames = await actor_names({a.enabled_by for a in activations.values()})
    records = sorted(platform.plugins.records.values(), key=lambda record: record.name)
    return area, [_card(platform, record, activations.get(record.name), usernames) for record in records]


async def module_card(platform: Platform, code: str, plugin: str) -> tuple[Area, ModuleCard]:
    """One plugin's card for township ``code``; 404 for a name no plugin has."""
    area, cards = await module_cards(platform, code)
    card = next((card for card in cards if card.name == plugin), None)
    if card is None:
        raise NotFound(_("No module named %(name)s is installed") % {"name": plugin}, field="plugin")
    return area, card
