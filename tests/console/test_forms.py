"""Every console form carries a token another site cannot know; the language is Chinese until switched, then remembered."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import YUNXI_TOWN
from tests.console.conftest import SIGN_IN, staff
from tulou.modules.models import ModuleActivation

ENABLE = f"/console/modules/{YUNXI_TOWN}/notices/enable"


@pytest.fixture
async def lin(console: Any, open_browser: Any) -> Any:
    await staff(console, "lin", "township_admin")
    browser = open_browser()
    await browser.sign_in("lin")
    await browser.open(ENABLE)
    return browser


async def test_a_form_without_its_token_changes_nothing(lin: Any) -> None:
    for fields in ({}, {"_csrf": ""}, {"_csrf": "forged-by-another-site"}):
        refused = await lin.post(ENABLE, data=fields)
        assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert not await ModuleActivation.exists(plugin="notices")
    assert (await lin.submit(ENABLE)).status_code == 303
    assert await ModuleActivation.exists(plugin="notices", area_id=YUNXI_TOWN)


async def test_the_token_of_another_browser_does_not_do(console: Any, open_browser: Any, lin: Any) -> None:
    await staff(console, "chen", "township_admin")
    chen = open_browser()
    await chen.sign_in("chen")
    refused = await lin.post(ENABLE, data={"_csrf": chen.form_token})
    assert refused.status_code == 403
    assert not await ModuleActivation.exists(plugin="notices")


async def test_htmx_sends_the_token_as_a_header(lin: Any) -> None:
    assert (await lin.post(ENABLE, headers={"X-CSRF-Token": lin.form_token})).status_code == 303
    assert await ModuleActivation.exists(plugin="notices", area_id=YUNXI_TOWN)


async def test_signing_in_needs_the_token_of_the_sign_in_page(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    stranger = open_browser()
    fields = {"username": "lin", "password": "plum blossom in the rain"}
    assert (await stranger.post(SIGN_IN, data=fields)).status_code == 403  # no cookie yet: a forged sign-in
    await stranger.open(SIGN_IN)
    assert (await stranger.post(SIGN_IN, data={**fields, "_csrf": "guess"})).status_code == 403
    assert (await stranger.submit(SIGN_IN, fields)).status_code == 303


async def test_the_console_speaks_chinese_whatever_the_browser_asks(console: Any, open_browser: Any) -> None:
    visitor = open_browser()
    page = await visitor.open(SIGN_IN, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="zh-CN">' in page.text and "用户名" in page.text


async def test_the_language_switch_is_remembered(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = open_browser()
    await lin.sign_in("lin")
    await lin.open("/console/")
    switched = await lin.submit("/console/language", {"lang": "en", "next": "/console/modules"})
    assert switched.status_code == 303 and switched.headers["location"] == "/console/modules"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("tulou_lang=en;") and "HttpOnly" in cookie and "Max-Age=31536000" in cookie
    page = await lin.open(f"/console/modules/{YUNXI_TOWN}")
    assert '<html lang="en">' in page.text and "Modules of Yunxi Town" in page.text
    back = await lin.submit("/console/language", {"lang": "zh_CN", "next": "https://evil.example/"})
    assert back.headers["location"] == "/console/"
    assert "模块" in (await lin.open(f"/console/modules/{YUNXI_TOWN}")).text


async def test_an_unknown_language_is_refused(console: Any, open_browser: Any) -> None:
    visitor = open_browser()
    await visitor.open(SIGN_IN)
    refused = await visitor.submit("/console/language", {"lang": "fr"})
    assert refused.status_code == 422 and "tulou_lang" not in refused.headers.get("set-cookie", "")


async def test_pages_carry_a_strict_content_security_policy(console: Any, open_browser: Any) -> None:
    visitor = open_browser()
    page = await visitor.open(SIGN_IN)
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and " style=" not in page.text and " on" + "click=" not in page.text
    asset = await visitor.get(page.text.split('<script src="')[1].split('"')[0])
    assert asset.status_code == 200 and "max-age=86400" in asset.headers["cache-control"]
