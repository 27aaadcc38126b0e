"""The console in a real browser (Debian's Chromium, driven by Playwright) against a real ``tulou serve``.

A township administrator signs in, switches the notice board on for her township and
switches the console to English; she approves a cooperative's request to read her
township's dataset, narrower than asked, registers a device and watches its readings,
imports residents and finds them with their household, creates a colleague's account
(fixing what the form refuses), grants it a role and checks the audit log's chain; another
township's administrator cannot reach her pages by their address. Any browser console error fails the test, but for the 404
that the second test provokes on purpose. Each page is saved as a screenshot under
``tests/output/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from tests.conftest import MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, copy_of_template
from tests.console.live import SOIL_MODEL, LiveConsole, live_console, off_the_loop
from tests.console.sharing_data import DATASET
from tests.core.test_accounts import PASSWORD
from tests.core.test_people import resident_id
from tests.core.test_people_import import row, write_xlsx

SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}
YUNXI_MODULES = f"/console/modules/{YUNXI_TOWN}"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    directory = tmp_path_factory.mktemp("live-console")
    with off_the_loop(copy_of_template(template_database, directory)) as database_url:
        with live_console(database_url, directory) as live:
            yield live


class BrowserConsole:
    """The browser's console errors and uncaught exceptions, except those a test says it provokes."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []
        page.on("console", self._heard)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _heard(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text} at {message.location.get('url')}")

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [error for error in self.errors if not any(allowed.search(error) for allowed in self.allowed)]


@pytest.fixture
def tab(server: LiveConsole, new_context: object) -> Iterator[tuple[Page, BrowserConsole]]:
    """A fresh browser window (no cookies) on the live console at 1280×800; fails on any console error."""
    context: BrowserContext = new_context(base_url=server.url, viewport=DESKTOP)  # type: ignore[operator]
    page = context.new_page()
    console = BrowserConsole(page)
    yield page, console
    assert console.unexpected() == [], f"browser console errors (server log: {server.log})"


#: Every visible piece of text whose colour against the background behind it falls short of WCAG 2.2 AA:
#: 4.5:1, or 3:1 for large text (24px, or 18.66px bold).
LOW_CONTRAST = """() => {
  const rgb = (value) => {
    const parts = value.match(/rgba?\\(([^)]+)\\)/)[1].split(",").map(Number);
    return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const behind = (element) => {
    for (; element; element = element.parentElement) {
      const colour = rgb(getComputedStyle(element).backgroundColor);
      if (colour.a === 1) return colour;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const low = [];
  for (const element of document.querySelectorAll("body *")) {
    const texts = [...element.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(element);
    if (!texts.length || style.visibility === "hidden" || !element.getClientRects().length) continue;
    const [a, b] = [luminance(rgb(style.color)), luminance(behind(element))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (parseInt(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) low.push(element.tagName + " " + texts[0].textContent.trim() + ": " + ratio.toFixed(2));
  }
  return low;
}"""


def snapshot(page: Page, name: str) -> None:
    """Save the page, having checked that all its text is readable."""
    assert page.evaluate(LOW_CONTRAST) == [], f"text below WCAG AA contrast on {name}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, username: str) -> None:
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_a_township_admin_switches_on_the_notice_board_in_chinese_then_english(
    tab: tuple[Page, BrowserConsole], server: LiveConsole,
) -> None:
    page, _console = tab
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("登录土楼管理后台")
    snapshot(page, "sign-in")
    sign_in(page, "lin")

    expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    expect(page.locator(".who")).to_contain_text("lin")
    expect(page.locator(".who")).to_contain_text("云溪镇")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()
    snapshot(page, "overview")

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="模块").click()
    expect(page).to_have_url(re.compile(f"{YUNXI_MODULES}$"))
    board = page.locator("#module-notices")
    expect(board.locator(".badge")).to_have_text("未开启")
    snapshot(page, "modules")

    board.get_by_role("link", name="开启…").click()  # htmx brings the question into the card
    question = board.get_by_role("heading", name=re.compile("确定为云溪镇开启"))
    expect(question).to_be_focused()
    expect(board).to_contain_text("notices:publish")
    expect(page).to_have_url(re.compile(f"{YUNXI_MODULES}$"))
    snapshot(page, "module-confirm")

    board.get_by_role("button", name="确定开启").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("已为云溪镇开启.+。"))
    expect(page.locator("#module-notices .badge")).to_have_text("已开启")
    snapshot(page, "module-enabled")
    states = httpx.get(f"{server.url}/api/v1/areas/{YUNXI_TOWN}/modules").json()
    assert next(state for state in states if state["plugin"] == "notices")["enabled"] is True

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Modules of Yunxi Town")
    menu = page.get_by_role("navigation", name="Main menu")
    expect(menu.get_by_role("link", name="Overview")).to_be_visible()
    expect(menu.get_by_role("link", name="Modules")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("#module-notices .badge")).to_have_text("On")
    snapshot(page, "modules-english")
    page.goto("/console/")
    expect(page.get_by_role("heading", name="Your areas")).to_be_visible()  # the choice is remembered
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the Tulou console")


def test_the_console_fits_a_tablet(tab: tuple[Page, BrowserConsole]) -> None:
    page, _console = tab
    page.set_viewport_size(TABLET)
    page.goto("/console/sign-in")
    sign_in(page, "lin")
    page.goto(YUNXI_MODULES)
    menu = page.get_by_role("navigation", name="主菜单").bounding_box()
    main = page.get_by_role("main").bounding_box()
    assert menu is not None and main is not None and menu["y"] + menu["height"] <= main["y"]  # the menu sits above
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing runs off the side
    snapshot(page, "modules-tablet")
    page.goto("/console/password")
    expect(page.get_by_label("当前密码")).to_be_visible()
    snapshot(page, "password-tablet")


def test_another_townships_admin_cannot_reach_them_by_address(tab: tuple[Page, BrowserConsole]) -> None:
    page, console = tab
    page.goto(f"/console/sign-in?next=%2Fconsole%2Fmodules%2F{YUNXI_TOWN}")
    sign_in(page, "mei")
    expect(page.get_by_role("heading", level=1)).to_have_text("页面不存在")
    console.allow(rf"status of 404 .* at {re.escape(page.url)}$")
    assert "云溪镇" not in page.content()
    snapshot(page, "not-found")
    page.goto("/console/modules")
    expect(page.get_by_role("heading", level=1)).to_have_text("梅林乡的模块")
    page.goto("/console/")
    expect(page.get_by_role("main")).not_to_contain_text("云溪镇")
    snapshot(page, "overview-meilin")


def test_a_township_admin_approves_a_sharing_request_narrower_than_asked(
    tab: tuple[Page, BrowserConsole], server: LiveConsole,
) -> None:
    page, _console = tab
    page.goto("/console/sign-in")
    sign_in(page, "lin")
    page.get_by_role("button", name="English").click()  # the pages' own words, whatever the catalogues hold
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Sharing requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sharing requests")
    request = page.get_by_role("article").filter(has_text="竹林茶叶合作社")
    expect(request).to_contain_text("统计茶园面积")
    snapshot(page, "sharing-requests")

    request.get_by_role("link", name=re.compile("Decide on request")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("竹林茶叶合作社 asks to read Township plots")
    page.get_by_role("checkbox", name="household").uncheck()
    page.get_by_role("checkbox", name=re.compile("^Yunxi Town")).uncheck()
    page.get_by_role("checkbox", name=re.compile("^Zhulin Village")).check()
    page.get_by_label("Note for the organisation (optional)").fill("只限竹林村")
    snapshot(page, "sharing-decide")

    page.get_by_role("button", name="Approve the request").click()
    expect(page.get_by_role("status")).to_contain_text("is approved")
    expect(page.get_by_role("main")).to_contain_text("No request is waiting for your decision.")
    snapshot(page, "sharing-approved")
    token = httpx.post(f"{server.url}/api/v1/auth/token", json={"username": "lin", "password": PASSWORD}).json()
    [agreement] = httpx.get(f"{server.url}/api/v1/agreements/", params={"dataset": DATASET},
                            headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert (agreement["status"], agreement["fields_granted"], agreement["areas_granted"]) == (
        "approved", ["area_mu", "crop"], ["350899100202"])

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Data catalogue").click()
    page.get_by_role("link", name=DATASET).click()
    expect(page.get_by_role("region", name="Shared with")).to_contain_text("Approved")
    snapshot(page, "dataset")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Subscriptions").click()
    page.get_by_role("link", name="https://hooks.example.org/plots").click()
    page.get_by_role("button", name=re.compile("Send delivery .* again")).click()
    expect(page.get_by_role("status")).to_contain_text("queued to be sent again")
    snapshot(page, "subscription-retried")
def test_a_township_admin_registers_a_device_and_watches_its_readings(
    tab: tuple[Page, BrowserConsole], server: LiveConsole,
) -> None:
    page, console = tab
    page.clock.install()  # the page's timers run when the test says, so a refresh need not be waited for
    page.goto("/console/devices/new")
    sign_in(page, "lin")
    form = page.locator("main form")
    form.locator("#model").select_option(SOIL_MODEL["id"])
    form.locator("#serialNumber").fill("SP-0001")
    form.locator("#name").fill("东坡墒情")
    form.locator("button[type=submit]").click()
    expect(page.locator("#area-error")).to_be_visible()  # the village was left out: said next to it
    console.allow(r"status of 422 .* at .*/console/devices/new$")
    snapshot(page, "device-register-errors")
    expect(form.locator("#serialNumber")).to_have_value("SP-0001")
    options = form.locator("#area option").evaluate_all("(options) => options.map((o) => o.value)")
    assert SHANGPING_VILLAGE in options and not any(code.startswith(MEILIN_TOWNSHIP[:9]) for code in options)
    form.locator("#area").select_option(SHANGPING_VILLAGE)
    form.locator("button[type=submit]").click()
    token = page.locator("#device-token").inner_text()
    device_id = page.locator("#device-id").inner_text()
    snapshot(page, "device-registered")

    now = datetime.now(timezone.utc)
    readings = [{"t": (now - timedelta(hours=hours)).isoformat(), "values": {"moisture": value}}
                for hours, value in ((3, 31.5), (2, 33.0), (1, 35.5))]
    sent = httpx.post(f"{server.url}/api/v1/telemetry", json={"readings": readings},
                      headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 200, sent.text

    page.goto("/console/devices")
    row = page.get_by_role("row", name=re.compile("东坡墒情"))
    expect(row).to_contain_text("SP-0001")
    snapshot(page, "devices")
    row.get_by_role("link", name="东坡墒情").click()
    expect(page).to_have_url(re.compile(f"/console/devices/{device_id}$"))
    expect(page.locator("#chart canvas").first).to_be_visible()
    expect(page.locator("#chart .u-legend")).to_contain_text("moisture")
    expect(page.locator("#readings")).to_contain_text("35.5")
    expect(page.locator("#chart")).to_have_attribute("data-shown", "35.5")  # the newest hour the chart drew
    snapshot(page, "device")

    later = httpx.post(f"{server.url}/api/v1/telemetry", json={"values": {"moisture": 41.25}},
                       headers={"Authorization": f"Bearer {token}"})
    assert later.status_code == 200, later.text
    page.clock.run_for(31_000)  # the page asks again on its own
    expect(page.locator("#readings")).to_contain_text("41.25")
    expect(page.locator("#chart")).to_have_attribute("data-shown", "41.25")  # and the chart has its hour
    snapshot(page, "device-refreshed")
def test_a_township_admin_imports_residents_and_finds_them_with_their_household(
    tab: tuple[Page, BrowserConsole], tmp_path: Path,
) -> None:
    """In English, whose strings stay put while the Chinese catalogue grows: the area tree by keyboard, an import
    refused with its row report, one accepted, then a resident found by name, masked, with their household."""
    page, _console = tab
    page.goto("/console/sign-in")
    sign_in(page, "lin")
    page.get_by_role("button", name="English").click()
    menu = page.get_by_role("navigation", name="Main menu")
    menu.get_by_role("link", name="Areas").click()
    yunxi = page.locator("details", has=page.get_by_text("areas under Yunxi Town")).first
    expect(yunxi).to_have_attribute("open", "")
    yunxi.locator("summary").first.focus()
    page.keyboard.press("Enter")
    expect(yunxi).not_to_have_attribute("open", "")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Shangping Village")).to_be_visible()
    snapshot(page, "areas")

    menu.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Import residents from Excel…").click()
    wrong = write_xlsx(tmp_path / "wrong.xlsx", [row(61, household_number="0601"), row(62, village="350899200201")])
    page.get_by_label("Residents list").set_input_files(wrong)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("alert")).to_have_text("Nothing was imported: 1 row needs fixing")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(2)  # the header and line 3
    snapshot(page, "people-import-report")
    page.get_by_role("link", name="Import another file").click()
    good = write_xlsx(tmp_path / "good.xlsx", [row(61, household_number="0601"), row(62, household_number="0601")])
    page.get_by_label("Residents list").set_input_files(good)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#import-status .notice")).to_have_text("2 person(s) created, 1 new household(s)")
    snapshot(page, "people-import-done")

    menu.get_by_role("link", name="People").click()
    page.get_by_role("searchbox", name="Full name", exact=True).fill("林61")
    page.get_by_role("button", name="Search", exact=True).click()
    found = page.get_by_role("row", name=re.compile("林61"))
    expect(found).to_contain_text("3508")
    expect(found).not_to_contain_text(resident_id(61))  # masked
    found.get_by_role("link", name="林61").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("林61")
    expect(page.get_by_role("link", name="林62")).to_be_visible()
    snapshot(page, "person")
    page.get_by_role("link", name="Household 0601").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Household 0601")
    snapshot(page, "household")
def test_a_township_admin_creates_an_account_grants_a_role_and_checks_the_audit_log(
    tab: tuple[Page, BrowserConsole],
) -> None:
    page, console = tab
    page.goto("/console/sign-in")
    sign_in(page, "lin")
    page.get_by_role("navigation", name="主菜单").locator('a[href="/console/accounts"]').click()
    expect(page).to_have_url(re.compile(r"/console/accounts$"))
    form = page.locator('form[action="/console/accounts"][method="post"]')
    form.locator("#new-username").fill("zhao")
    form.locator("#password").fill("short")
    form.locator("#area").select_option(YUNXI_TOWN)
    form.locator('button[type="submit"]').click()
    console.allow(r"status of 422 .* at http://[^ ]+/console/accounts$")  # the refused form, on purpose
    expect(page.locator("#password-error")).to_be_visible()
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#new-username")).to_have_value("zhao")
    snapshot(page, "accounts-field-error")

    page.locator("#password").fill("a long enough pass phrase")
    page.locator("#area").select_option(YUNXI_TOWN)
    page.locator('form[action="/console/accounts"][method="post"] button[type="submit"]').click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator('select#role option[value="county_admin"]')).to_have_count(0)  # stronger than lin
    page.locator("#role").select_option("village_committee")
    page.locator("#area").select_option(YUNXI_TOWN)
    page.locator('form[action$="/bindings"] button[type="submit"]').click()
    expect(page.locator("table")).to_contain_text("village_committee")
    snapshot(page, "account")

    page.goto("/console/audit")
    expect(page.locator("tbody")).to_contain_text("lin")
    page.locator('form[action="/console/audit/verify"] button').click()
    expect(page.locator("#chain-result")).to_have_class("notice")
    snapshot(page, "audit")


#: Words in Chinese script: in English, a label, button, column heading or menu entry holding one was left untranslated.
HAN = re.compile(r"[\u4e00-\u9fff]")
LABELS = "label, button, thead th, nav a, h1, legend, caption, .hint"  # not row headers: they hold data


def test_every_menu_page_in_both_languages_and_on_a_tablet(tab: tuple[Page, BrowserConsole]) -> None:
    """The county's administrator, who sees every page of the menu, opens each: it renders with no browser
    error, its text is readable, nothing runs off a tablet's side, and in English no label is left in Chinese."""
    page, _console = tab
    page.goto("/console/sign-in")
    sign_in(page, "county")
    menu = page.get_by_role("navigation", name="主菜单").get_by_role("link")
    entries = menu.evaluate_all("(links) => links.map((link) => link.getAttribute('href'))")
    assert len(entries) >= 18, entries
    for path in entries:
        name = "page-" + (path.removeprefix("/console").strip("/").replace("/", "-") or "overview")
        page.set_viewport_size(DESKTOP)
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        snapshot(page, name)
        page.set_viewport_size(TABLET)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} runs off a tablet"
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="English").click()
    for path in entries:
        page.goto(path)
        texts = page.locator(LABELS).all_inner_texts()
        untranslated = [text for text in texts if HAN.search(text) and text != "中文"]  # the switch back names its language
        assert untranslated == [], f"{path}: {untranslated}"
    snapshot(page, "page-overview-en")
