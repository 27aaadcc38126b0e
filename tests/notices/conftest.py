"""Fixtures for the notice board's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar

from tests.conftest import running_app


@pytest.fixture
def serve(make_app: Callable[..., Litestar]) -> Callable[..., Any]:
    """``async with serve(**settings) as client``: built-in plugins, demo county, setting overrides."""
    return lambda **overrides: running_app(make_app(**overrides))
