"""The built-in roles, kept in ``core_role`` so bindings can point at them.

County and township admins hold everything in their subtree except reading full
resident numbers, which takes the data steward role, granted on purpose and audited,
and defining custom roles, which stays with the county, as does publishing a dataset
in the data catalogue (naming its owner, manager and area) and running scheduled jobs.
``county_admin`` holds ``*`` (every permission, plugins' included). The other roles
list core permissions by name and take plugin permissions from the registry each
time the roles are synced, at start-up and by ``tulou admin create``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tulou.identity.accounts_models import Role
from tulou.security.principal import ALL_PERMISSIONS



def N_(message: str) -> str:
    """Marks a title for the catalogue: stored untranslated, translated when shown."""
    return message


CORE_PERMISSIONS = (
    "modules:manage", "audit:read", "person:read", "person:read_sensitive", "person:write",
    "household:read", "household:write", "organisation:read", "organisation:write",
    "account:read", "account:write", "role:grant", "role:manage", "client:read", "client:write",
    "dataset:read", "dataset:manage", "record:read", "record:write", "agreement:request", "agreement:decide",
    "subscription:manage", "device:read", "device:write", "device_model:manage", "telemetry:read", "area:import",
    "jobs:manage",
)

#: Left to the county: reading full resident numbers, defining roles, which would let
#: a township shape what every other township's staff may be granted, publishing
#: datasets, which names who owns and manages data shared across townships, and device
#: models, which every township's devices are checked against, the division tree itself, and scheduled
#: jobs, which run for every township at once.
COUNTY_ONLY = ("person:read_sensitive", "role:manage", "dataset:manage", "device_model:manage", "area:import",
               "jobs:manage")


@dataclass(frozen=True)
class BuiltinRole:
    name: str
    title: str
    permissions: tuple[str, ...]
    plugin_permissions: str = "none"  # "all", "read" (names ending in ":read") or "none"


BUILTIN_ROLES = (
    BuiltinRole("county_admin", N_("County administrator"), (ALL_PERMISSIONS,)),
    BuiltinRole(
        "township_admin", N_("Township administrator"),
        tuple(p for p in CORE_PERMISSIONS if p not in COUNTY_ONLY), "all",
    ),
    BuiltinRole(
        "township_staff", N_("Township staff"),
        ("person:read", "person:write", "household:read", "household:write", "organisation:read",
         "dataset:read", "record:read", "record:write", "agreement:request", "device:read", "device:write",
         "telemetry:read"), "all",
    ),
    BuiltinRole(
        "village_committee", N_("Village committee"),
        ("person:read", "household:read", "household:write", "organisation:read", "dataset:read", "record:read",
         "device:read", "telemetry:read"),
        "read",
    ),
    BuiltinRole(
        "data_steward", N_("Data steward"),
        ("person:read", "person:read_sensitive", "household:read", "dataset:read", "record:read"),
    ),
    BuiltinRole("auditor", N_("Auditor"), ("audit:read", "account:read", "organisation:read", "dataset:read")),
    BuiltinRole("kiosk", N_("Public kiosk"), (), "read"),
)


def role_permissions(role: BuiltinRole, plugin_permissions: Iterable[str]) -> list[str]:
    extra = [
        name for name in plugin_permissions
        if role.plugin_permissions == "all" or (role.plugin_permissions == "read" and name.endswith(":read"))
    ]
    return sorted({*role.permissions, *extra})


async def sync_builtin_roles(plugin_permissions: Iterable[str]) -> None:
    """Create or update every built-in role; roles made by people are left alone."""
    names = sorted(set(plugin_permissions))
    for role in BUILTIN_ROLES:
        permissions = role_permissions(role, names)
        existing = await Role.get_or_none(name=role.name)
        if existing is None:
            await Role.create(name=role.name, title=role.title, permissions=permissions, builtin=True)
        elif (existing.permissions, existing.title, existing.builtin) != (permissions, role.title, True):
            await Role.filter(id=existing.id).update(permissions=permissions, title=role.title, builtin=True)


def registered_permissions(registry: object) -> list[str]:
    """Every permission name the working plugins declared."""
    return [p.name for perms in getattr(registry, "permissions", {}).values() for p in perms]


def known_permissions(registry: object) -> frozenset[str]:
    """Every permission name that can be granted: the core's and the working plugins'."""
    return frozenset(CORE_PERMISSIONS).union(registered_permissions(registry))
