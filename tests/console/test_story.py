"""The admin console's story (issue 6), told once in a real browser, in Chinese, as a newcomer would live it.

A township administrator who has never seen Tulou signs in, switches the notice board on for
her township (the confirmation lists what it lets staff do), opens it from the menu and publishes
a notice to one village; she makes a provisioning key for the county's soil-sensor model, a field
installer claims a sensor with it and the sensor sends readings, which she watches on the sensor's
chart. Any browser console error fails the story; each step is saved as a screenshot.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.live import SOIL_MODEL, LiveConsole
from tests.console.test_browser import BrowserConsole, server, sign_in, snapshot, tab  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
GUANYANG_VILLAGE = "350899200202"
HUKENG_VILLAGE = "350899200203"
MEILIN_VILLAGE = "350899200201"


def board_titles(server: LiveConsole, village: str) -> list[str]:
    """What a resident sees on a village's public board."""
    board = httpx.get(f"{server.url}/api/v1/notices/areas/{village}/notices")
    assert board.status_code == 200, board.text
    return [notice["title"] for notice in board.json()["items"]]


def switch_on_the_notice_board(page: Page) -> None:
    menu = page.get_by_role("navigation", name="主菜单")
    expect(menu.get_by_role("link", name="村务公开栏")).to_have_count(0)  # not before the module is on
    menu.get_by_role("link", name="模块").click()
    card = page.locator("#module-notices")
    expect(card.locator(".badge")).to_have_text("未开启")
    card.get_by_role("link", name="开启…").click()
    expect(card.get_by_role("heading", name=re.compile("确定为梅林乡开启"))).to_be_focused()
    expect(card).to_contain_text("notices:publish")  # the permissions it brings, listed before she agrees
    snapshot(page, "story-module-confirm")
    card.get_by_role("button", name="确定开启").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("已为梅林乡开启.+。"))
    expect(card.locator(".badge")).to_have_text("已开启")


def publish_to_one_village(page: Page, console: BrowserConsole, server: LiveConsole) -> None:
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="村务公开栏").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("村务公开栏")
    form = page.locator("main form")
    form.get_by_label("标题").fill("官洋村春耕停水通知")
    form.get_by_role("button", name="发布").click()  # no text, no village: both said next to their fields
    expect(page.locator("#body-error")).to_be_visible()
    console.allow(r"status of 422 .* at .*/console/notices$")
    options = form.locator("#area option").evaluate_all("(options) => options.map((o) => o.value)")
    assert GUANYANG_VILLAGE in options and not any(code.startswith("350899100") for code in options)
    form.get_by_label("正文").fill("3月5日上午8时至12时检修水管，官洋村停水，请提前储水。")
    form.get_by_label("公开栏").select_option(GUANYANG_VILLAGE)
    snapshot(page, "story-notice-form")
    form.get_by_role("button", name="发布").click()
    expect(page.get_by_role("status")).to_have_text("公告已发布。")
    expect(page.get_by_role("row", name=re.compile("官洋村春耕停水通知"))).to_contain_text("官洋村")
    snapshot(page, "story-notice-published")
    assert board_titles(server, GUANYANG_VILLAGE) == ["官洋村春耕停水通知"]
    assert board_titles(server, HUKENG_VILLAGE) == []  # one village only


def make_a_provisioning_key(page: Page) -> str:
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="设备型号").click()
    page.get_by_role("link", name=SOIL_MODEL["modelName"]).click()
    form = page.locator("main form").last
    form.get_by_label("村", exact=True).select_option(MEILIN_VILLAGE)
    form.get_by_role("button", name="生成密钥").click()
    key = page.locator("#provisioning-key").inner_text()
    snapshot(page, "story-provisioning-key")
    return key


def claim_and_report(server: LiveConsole, key: str) -> str:
    """A field installer claims the sensor with the key; the sensor then sends three hours of readings."""
    claimed = httpx.post(f"{server.url}/api/v1/devices:claim", headers={"Authorization": f"Bearer {key}"},
                         json={"serialNumber": "ML-SOIL-01", "name": "梅林村墒情一号"})
    assert claimed.status_code in (200, 201), claimed.text
    sensor = claimed.json()
    now = datetime.now(timezone.utc)
    readings = [{"t": (now - timedelta(hours=hours)).isoformat(), "values": {"moisture": value}}
                for hours, value in ((3, 28.5), (2, 30.0), (1, 32.75))]
    sent = httpx.post(f"{server.url}/api/v1/telemetry", json={"readings": readings},
                      headers={"Authorization": f"Bearer {sensor['token']}"})
    assert sent.status_code == 200, sent.text
    return str(sensor["id"])


def test_a_newcomer_runs_her_township_from_the_console(tab: tuple[Page, BrowserConsole],  # noqa: F811
                                                       server: LiveConsole) -> None:  # noqa: F811
    page, console = tab
    page.goto("/console/")
    sign_in(page, "mei")
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    expect(page.locator(".who")).to_contain_text("梅林乡")
    snapshot(page, "story-overview")

    switch_on_the_notice_board(page)
    publish_to_one_village(page, console, server)
    sensor = claim_and_report(server, make_a_provisioning_key(page))

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="设备", exact=True).click()
    page.get_by_role("row", name=re.compile("梅林村墒情一号")).get_by_role("link", name="梅林村墒情一号").click()
    expect(page).to_have_url(re.compile(f"/console/devices/{sensor}$"))
    expect(page.locator("#chart canvas").first).to_be_visible()
    expect(page.locator("#chart")).to_have_attribute("data-shown", "32.75")  # the newest hour the chart drew
    snapshot(page, "story-sensor-chart")
