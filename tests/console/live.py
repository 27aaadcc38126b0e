"""A real ``tulou serve`` for the browser tests: its own copy of the test database, the demo county, two townships' admins.

The data is made through the API in-process first; then the server runs as the county
would run it, a separate process on a free port, and is stopped by its pid.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from tests.conftest import (
    MEILIN_TOWNSHIP, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS, YUNXI_TOWN, builtin_plugins, running_app,
    settings_for,
)
from tests.core.test_accounts import account
from tulou.web.app import create_app

STARTUP_SECONDS = 30
T = TypeVar("T")


@dataclass(frozen=True)
class LiveConsole:
    url: str
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _prepare(database_url: str, directory: Path) -> None:
    """The demo county, Yunxi's administrator ``lin`` and Meilin's ``mei``."""
    app = create_app(plugins=builtin_plugins(), **settings_for(database_url, directory))
    async with running_app(app) as client:
        await account(client, "lin", "township_admin", YUNXI_TOWN)
        await account(client, "mei", "township_admin", MEILIN_TOWNSHIP)


def _environment(database_url: str, directory: Path) -> dict[str, str]:
    kept = {name: value for name, value in os.environ.items() if not name.startswith("TULOU_")}
    return {
        **kept,
        "TULOU_DATABASE__URL": database_url,
        "TULOU_DATA_DIR": str(directory / "data"),
        "TULOU_PLUGINS": "notices",
        "TULOU_JOBS__ENABLED": "false",
        "TULOU_WEB__MODULE_CACHE_SECONDS": "0",
        "TULOU_IDENTITY__ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
        "TULOU_IDENTITY__BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
        "TULOU_LOG_LEVEL": "WARNING",
    }


def _wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"tulou serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"tulou serve was not ready after {STARTUP_SECONDS}s:\n{log.read_text()}")


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
    port, log = free_port(), directory / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "tulou", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=directory, env=_environment(database_url, directory), stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_ready(url, server, log)
        yield LiveConsole(url, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
