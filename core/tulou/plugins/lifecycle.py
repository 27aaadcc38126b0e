"""Running plugins' ``app_started`` and ``app_stopping`` hooks without letting one stall the rest.

Each start-up runs in its own task: after the warning time it is logged, after the
time-out it is marked failed and its routes answer 503, while the app serves on.
Synchronous implementations run in a daemon thread so a blocking one cannot freeze
the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from typing import Any

from tulou.platform import Platform
from tulou.plugins.manager import HookCall, PluginStatus, describe_error

log = logging.getLogger(__name__)


def _in_daemon_thread(function: HookCall, **kwargs: Any) -> asyncio.Future[Any]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def run() -> None:
        try:
            result = function(**kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting task
            loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    threading.Thread(target=run, name=f"tulou-hook-{function.function.__name__}", daemon=True).start()
    return future


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _call(function: HookCall, **kwargs: Any) -> asyncio.Future[Any]:
    if function.is_async:
        return asyncio.ensure_future(function(**kwargs))
    return _in_daemon_thread(function, **kwargs)


async def _supervise(platform: Platform, name: str, function: HookCall, app: Any) -> None:
    runtime = platform.settings.plugin_runtime
    record = platform.plugins.records[name]
    try:
        work = _call(function, app=app)
        done, _ = await asyncio.wait({work}, timeout=runtime.startup_warn_seconds)
        if not done:
            log.warning("plugin %s still starting after %s s", name, runtime.startup_warn_seconds)
            remaining = max(runtime.startup_timeout_seconds - runtime.startup_warn_seconds, 0)
            done, _ = await asyncio.wait({work}, timeout=remaining)
        if not done:
            work.cancel()
            platform.plugins.fail(name, f"start-up timed out after {runtime.startup_timeout_seconds:g} s")
            return
        result = work.result()
        if inspect.isawaitable(result):
            await asyncio.wait_for(result, timeout=runtime.startup_timeout_seconds)
    except Exception as error:  # noqa: BLE001 - foreign code
        platform.plugins.fail(name, f"app_started raised {describe_error(error)}")
        return
    if record.usable:
        record.status = PluginStatus.ACTIVE


def start_plugins(platform: Platform, app: Any) -> list[asyncio.Task[None]]:
    """Mark plugins active, or start their ``app_started`` hooks in the background."""
    with_hook = dict(platform.plugins.implementations("app_started"))
    tasks = []
    for record in platform.plugins.usable():
        function = with_hook.get(record.name)
        if function is None:
            record.status = PluginStatus.ACTIVE
            continue
        record.status = PluginStatus.STARTING
        tasks.append(asyncio.create_task(_supervise(platform, record.name, function, app), name=f"start {record.name}"))
    return tasks


async def stop_plugins(platform: Platform, app: Any) -> None:
    """Give each plugin a bounded chance to clean up; failures are logged, not raised."""
    timeout = platform.settings.plugin_runtime.startup_warn_seconds
    for name, function in list(platform.plugins.implementations("app_stopping")):
        try:
            await asyncio.wait_for(_call(function, app=app), timeout=timeout)
        except Exception as error:  # noqa: BLE001 - shutting down anyway
            log.error("plugin %s failed to stop: %s", name, describe_error(error))
