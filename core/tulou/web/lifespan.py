"""What happens between the app starting and stopping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar

from tulou.db.lifecycle import close_database, open_database
from tulou.exchange.delivery import DeliveryWorker
from tulou.exchange.plugin_datasets import sync_plugin_datasets
from tulou.identity.roles import registered_permissions, sync_builtin_roles
from tulou.jobs.runner import JobRunner
from tulou.platform import Platform
from tulou.plugins.lifecycle import start_plugins, stop_plugins
from tulou.settings import retired_settings_in_use

log = logging.getLogger(__name__)


def lifespan_for(platform: Platform):  # noqa: ANN201 - a Litestar lifespan factory
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runner = JobRunner(platform) if platform.settings.jobs.enabled else None
        deliveries = DeliveryWorker(platform.settings, lambda: runner.is_leader) if runner is not None else None
        startups: list[asyncio.Task[None]] = []
        for warning in retired_settings_in_use():
            log.warning(warning)
        try:
            await open_database(platform.db_config)
            try:
                await platform.activations.reload()
                await sync_builtin_roles(registered_permissions(platform.registry))
                await sync_plugin_datasets(platform.registry.datasets)
            except Exception as error:  # noqa: BLE001 - not migrated yet: /readyz says so
                log.warning("cannot read module activations, roles or datasets yet: %s", error)
            await platform.principal_cache.signal.start()
            await app.state.devices.start()
            startups = start_plugins(platform, app)
            if runner is not None:
                runner.start()
            if deliveries is not None:
                deliveries.start()
            app.state.job_runner = runner
            yield
        finally:
            for task in startups:
                task.cancel()
            if deliveries is not None:
                await deliveries.stop()
            if runner is not None:
                await runner.stop()
            await stop_plugins(platform, app)
            await app.state.devices.stop()
            await platform.principal_cache.signal.stop()
            await close_database()

    return lifespan
