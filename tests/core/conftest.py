"""Fixtures for core tests: an app with sample plugins and the demo county."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar import Litestar

from tests.conftest import AppClient, running_app


@pytest.fixture
def serve(make_app: Callable[..., Litestar]) -> Callable[..., Any]:
    """``async with serve(plugins=[...]) as client:`` runs an app with the demo county loaded."""

    @asynccontextmanager
    async def running(plugins: list[object] | None = None, **overrides: Any) -> AsyncIterator[AppClient]:
        async with running_app(make_app(plugins=plugins or [], **overrides)) as client:
            yield client

    return running
