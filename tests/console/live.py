"""A real ``tulou serve`` for the browser tests: its own copy of the test database, the demo county, two townships' admins.

The data is made through the API in-process first; then the server runs as the county
would run it, a separate process on a free port (:class:`tests.serverprocess.TulouServer`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests.conftest import (
    ADMIN, DEMO_COUNTY, MEILIN_TOWNSHIP, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS, YUNXI_TOWN, builtin_plugins,
    running_app, settings_for,
)
from tests.console.sharing_data import yunxi_sharing
from tests.core.test_accounts import account
from tests.serverprocess import TulouServer, operator_environment
from tulou.web.app import create_app

T = TypeVar("T")
#: The server's settings besides its database: the notice board, no jobs, modules read afresh, the tests' keys.
SETTINGS = {
    "TULOU_PLUGINS": "notices",
    "TULOU_JOBS__ENABLED": "false",
    "TULOU_WEB__MODULE_CACHE_SECONDS": "0",
    "TULOU_IDENTITY__ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
    "TULOU_IDENTITY__BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
    "TULOU_LOG_LEVEL": "WARNING",
}

#: The model the browser registers a device of.
SOIL_MODEL = {
    "id": "demo.soil", "category": "sensor", "manufacturerName": "Demo Instruments", "modelName": "Soil probe",
    "telemetry": {"moisture": {"type": "number", "unit": "P1", "minimum": 0, "maximum": 100}},
}


@dataclass(frozen=True)
class LiveConsole:
    url: str
    log: Path


async def _prepare(database_url: str, directory: Path) -> None:
    """The demo county, Yunxi's administrator ``lin`` (staff of its government, which keeps a dataset
    a cooperative asks to read), Meilin's ``mei``, the county's administrator ``county`` and a county
    device model."""
    app = create_app(plugins=builtin_plugins(), **settings_for(database_url, directory))
    async with running_app(app) as client:
        lin = await account(client, "lin", "township_admin", YUNXI_TOWN)
        await account(client, "mei", "township_admin", MEILIN_TOWNSHIP)
        await account(client, "county", "county_admin", DEMO_COUNTY)
        await yunxi_sharing(client, keepers=[lin])
        made = await client.post("/api/v1/device-models/", headers=ADMIN, json=SOIL_MODEL)
        assert made.status_code == 201, made.text


@contextmanager
def off_the_loop(manager: AbstractContextManager[T]) -> Iterator[T]:
    """Enter and leave ``manager`` in a thread of its own: it runs event loops, and Playwright's is running in this one."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        value = thread.submit(manager.__enter__).result()
        try:
            yield value
        finally:
            thread.submit(manager.__exit__, None, None, None).result()


@contextmanager
def live_console(database_url: str, directory: Path) -> Iterator[LiveConsole]:
    with ThreadPoolExecutor(max_workers=1) as thread:  # off Playwright's loop, as above
        thread.submit(asyncio.run, _prepare(database_url, directory)).result()
    server = TulouServer(operator_environment(database_url, directory / "data", **SETTINGS), directory).start()
    try:
        yield LiveConsole(server.url, server.log)
    finally:
        server.stop()
