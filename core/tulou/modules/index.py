"""An in-memory copy of which township runs which module, for the per-request gate.

Reading the database on every plugin request would cost more than the request
itself, so the gate reads this index. It reloads after a local change at once and,
to see changes made by other server processes, at most ``module_cache_seconds``
after the last load.
"""

from __future__ import annotations

import asyncio
import time

from tulou.areas.codes import township_code
from tulou.areas.models import Area
from tulou.modules.models import ModuleActivation


class ActivationIndex:
    """Known area codes and enabled (township, plugin) pairs."""

    def __init__(self, max_age_seconds: float) -> None:
        self._max_age = max_age_seconds
        self._areas: frozenset[str] = frozenset()
        self._enabled: frozenset[tuple[str, str]] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        areas = await Area.all().values_list("code", flat=True)
        pairs = await ModuleActivation.all().values_list("area_id", "plugin")
        self._areas = frozenset(areas)
        self._enabled = frozenset((area, plugin) for area, plugin in pairs)
        self._loaded_at = time.monotonic()

    async def fresh(self) -> ActivationIndex:
        """This index, reloaded first if it is older than the allowed age."""
        if time.monotonic() - self._loaded_at > self._max_age:
            async with self._lock:
                if time.monotonic() - self._loaded_at > self._max_age:
                    await self.reload()
        return self

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def area_exists(self, code: str) -> bool:
        return code in self._areas

    def enabled_townships(self, plugin: str) -> frozenset[str]:
        """The townships that switched ``plugin`` on."""
        return frozenset(township for township, name in self._enabled if name == plugin)

    def is_enabled(self, code: str, plugin: str) -> bool:
        """Whether ``plugin`` is on for the township that ``code`` is or lies in."""
        township = township_code(code)
        return township is not None and (township, plugin) in self._enabled
