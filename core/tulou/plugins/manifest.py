"""What a plugin says about itself: name, version, titles, standard range, activation policy."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from tulou.settings import CoreSettings

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

#: Path segments under /api/v1/ that the core and its standards use or will use.
CORE_API_SEGMENTS = frozenset(
    {"areas", "plugins", "modules", "auth", "me", "audit", "organisations", "people", "households",
     "accounts", "roles", "clients", "datasets", "devices", "device_models", "telemetry", "console", "jobs"}
)


def reserved_names() -> frozenset[str]:
    """Names a plugin cannot take: its routes or settings section would shadow the core's."""
    return CORE_API_SEGMENTS | frozenset(CoreSettings.model_fields) | {"tulou", "core"}


class ActivationPolicy(str, enum.Enum):
    """How a module is switched on for townships.

    ``optional`` modules are off until a township enables them, ``automatic`` ones
    are on for every township created after installation (and can be switched off),
    ``required`` ones are always on and cannot be switched off.
    """

    OPTIONAL = "optional"
    AUTOMATIC = "automatic"
    REQUIRED = "required"


@dataclass(frozen=True)
class PluginManifest:
    """A plugin's identity card, returned by its ``plugin_manifest`` hook.

    ``title`` and ``description`` should be lazy translations (the second function
    ``tulou.api.translator(name)`` returns) so listings show them in the caller's language.
    """

    name: str
    version: str
    title: object
    description: object = ""
    requires_standard: str = ">=1.0,<2"
    activation: ActivationPolicy = ActivationPolicy.OPTIONAL

    def problems(self, standard_version: str) -> list[str]:
        """Why this manifest cannot be accepted by a core implementing ``standard_version``."""
        found: list[str] = []
        if not PLUGIN_NAME.match(self.name):
            found.append(f"name {self.name!r} must be 2-31 lower-case letters, digits or '_'")
        elif self.name in reserved_names():
            found.append(f"name {self.name!r} is reserved by the core")
        try:
            Version(self.version)
        except ValueError:
            found.append(f"version {self.version!r} is not a valid version")
        try:
            wanted = SpecifierSet(self.requires_standard)
        except InvalidSpecifier:
            found.append(f"requires_standard {self.requires_standard!r} is not a version range")
        else:
            if Version(standard_version) not in wanted:
                found.append(
                    f"requires standard {self.requires_standard} but this core implements "
                    f"{standard_version}"
                )
        return found
