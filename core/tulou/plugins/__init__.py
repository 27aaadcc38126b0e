"""Tulou's plugin contract.

A plugin is a Python distribution that names a module in the ``tulou.plugins``
entry-point group::

    [project.entry-points."tulou.plugins"]
    notices = "tulou_notices.plugin"

That module implements hooks from :mod:`tulou.plugins.spec` with the ``hookimpl``
marker, which plugins import from the public API::

    from tulou.api import PluginManifest, hookimpl

    @hookimpl
    def plugin_manifest():
        return PluginManifest(name="notices", version="1.0.0", title=_("Notice board"))

    @hookimpl
    def register_routes(register):
        register(list_notices)

The core calls every implementation on its own (see :mod:`tulou.plugins.manager`):
one plugin that fails to import, raises, or hangs is marked failed with its
reason and the rest keep serving.
"""

import pluggy

PROJECT_NAME = "tulou"
ENTRY_POINT_GROUP = "tulou.plugins"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["ENTRY_POINT_GROUP", "PROJECT_NAME", "hookimpl"]
