"""Fixtures for the notice board's tests: the shared ones, with the database used on the app's loop.

``AsyncTestClient`` runs the app (its lifespan and every request) on a portal event
loop in another thread. Tortoise replaces a connection bound to another loop without
closing it, so a connection opened on pytest's own loop (as ``tests/conftest.py``'s
``client`` does when it loads the demo county) stays open, and its worker thread keeps
pytest from exiting on SQLite. Here the demo county, and any database work a test does
itself, runs on the app's loop instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import load_demo

T = TypeVar("T")


def in_app(client: AsyncTestClient, work: Callable[[], Awaitable[T]]) -> T:
    """Run database work on the app's event loop, where its connection lives."""
    return client.blocking_portal.call(work)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app) as client:
        in_app(client, lambda: load_demo(app))
        yield client


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AsyncTestClient]:
    """An app with the built-in plugins and the demo county loaded."""
    async with running(make_app()) as test_client:
        yield test_client


@pytest.fixture
def serve(make_app: Callable[..., Litestar]) -> Callable[..., Any]:
    """``async with serve(**settings) as client``: the same, with setting overrides."""
    return lambda **overrides: running(make_app(**overrides))
