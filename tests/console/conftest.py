"""Fixtures for the console: an app with the demo county, staff accounts, and browsers that keep cookies.

A :class:`Browser` is an HTTP client with its own cookie jar that reads the form token
from the last page it loaded and sends it back with each form, as a real browser does.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.conftest import MEILIN_TOWNSHIP, YUNXI_TOWN, AppClient, cheap_passwords, running_app
from tests.core.test_accounts import PASSWORD, account

#: Debian's Chromium (``apt-get install chromium``, done by tests/services.sh), never a downloaded one.
CHROMIUM = "/usr/lib/chromium/chromium"
#: Without these, Chromium keeps calling home, which this machine's closed network refuses.
QUIET_CHROMIUM = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
                  "--disable-sync", "--disable-quic"]
TOKEN_IN_PAGE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
SIGN_IN = "/console/sign-in"


class Browser(AppClient):
    """One browser: its cookies, and the form token of the last page it showed."""

    def __init__(self, app: Litestar) -> None:
        super().__init__(app)
        self.form_token = ""

    async def open(self, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.get(url, **kwargs)
        if found := TOKEN_IN_PAGE.search(response.text):
            self.form_token = found.group(1)
        return response

    async def submit(self, url: str, fields: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """Post a form from the last page, with its token."""
        return await self.post(url, data={"_csrf": self.form_token, **(fields or {})}, **kwargs)

    async def sign_in(self, username: str, password: str = PASSWORD, next_page: str = "") -> httpx.Response:
        await self.open(SIGN_IN)
        response = await self.submit(SIGN_IN, {"username": username, "password": password, "next": next_page})
        if response.status_code == 303:
            await self.open(response.headers["location"])
        return response


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium, quietly."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run tests/services.sh (make test does), which installs Debian's chromium")
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": [*browser_type_launch_args.get("args", []), *QUIET_CHROMIUM]}


@pytest.fixture
async def console(make_app: Callable[..., Litestar], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppClient]:
    """The app with the built-in plugins and the demo county, and a client acting as its county administrator."""
    cheap_passwords(monkeypatch)
    async with running_app(make_app()) as client:
        yield client


@pytest.fixture
async def open_browser(console: AppClient) -> AsyncIterator[Callable[[], Browser]]:
    """``browser()`` opens a new browser on the console's app."""
    opened: list[Browser] = []

    def open_browser() -> Browser:
        opened.append(Browser(console.app))
        return opened[-1]

    yield open_browser
    for each in opened:
        await each.aclose()


async def staff(client: AppClient, username: str, role: str, area: str = YUNXI_TOWN) -> int:
    """An account bound to ``role`` in ``area``, signing in with the tests' password."""
    return await account(client, username, role, area)


async def signed_in(open_browser: Callable[[], Browser], username: str) -> Browser:
    """A new browser signed in as ``username``."""
    browser = open_browser()
    assert (await browser.sign_in(username)).status_code == 303
    return browser


__all__ = ["MEILIN_TOWNSHIP", "PASSWORD", "YUNXI_TOWN", "Browser", "signed_in", "staff"]
