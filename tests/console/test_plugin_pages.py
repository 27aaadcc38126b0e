"""A plugin's console page (the notice board's): inside the layout, behind the console's guards,
and only where the plugin's module is on: neither reachable nor in the menu before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.params import FromPath

from tests.conftest import (
    ADMIN, DEMO_COUNTY, MEILIN_TOWNSHIP, NANYANG_VILLAGE, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient, builtin_plugins,
    cheap_passwords, running_app,
)
from tests.console.conftest import Browser, signed_in, staff
from tests.core.sample_plugins import SamplePlugin
from tulou.api import Permission, console_page, hookimpl, requires
from tulou_notices.models import Notice

BOARD = "/console/notices"
MENU_LINK = f'href="{BOARD}"'


async def switch_on(client: AppClient, township: str) -> None:
    response = await client.put(f"/api/v1/areas/{township}/modules/notices", headers=ADMIN)
    assert response.status_code in (200, 201), response.text


async def test_the_page_is_neither_reachable_nor_in_the_menu_until_the_module_is_on(console: AppClient,
                                                                                    open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    assert (await lin.get(BOARD)).status_code == 404
    assert MENU_LINK not in (await lin.get("/console/")).text
    await switch_on(console, YUNXI_TOWN)
    board = await lin.open(BOARD)
    assert board.status_code == 200
    assert '<nav class="menu"' in board.text and MENU_LINK in board.text  # inside the layout, in the menu
    assert 'aria-current="page">村务公开栏' in board.text  # the plugin's words, in its own catalogue
    assert "发布公告" in board.text and "上坪" in board.text


async def test_publishing_reports_each_mistake_next_to_its_field_and_then_publishes(console: AppClient,
                                                                                   open_browser: Any) -> None:
    lin_id = await staff(console, "lin", "township_admin")
    await switch_on(console, YUNXI_TOWN)
    lin = await signed_in(open_browser, "lin")
    await lin.open(BOARD)
    refused = await lin.submit(BOARD, {"title": " ", "body": "明早停水", "area": ""})
    assert refused.status_code == 422
    assert 'id="title-error"' in refused.text and 'id="area-error"' in refused.text
    assert 'id="body-error"' not in refused.text and "明早停水" in refused.text  # what was typed is kept
    assert not await Notice.exists()
    done = await lin.submit(BOARD, {"title": "停水通知", "body": "明早八点至十点停水。", "area": SHANGPING_VILLAGE})
    assert done.status_code == 303 and done.headers["location"] == f"{BOARD}?done=published"
    notice = await Notice.get(title="停水通知")
    assert (notice.area_id, notice.published_by) == (SHANGPING_VILLAGE, f"account:{lin_id}")
    shown = await lin.open(done.headers["location"])
    assert "公告已发布" in shown.text and "停水通知" in shown.text
    board = await console.get(f"/api/v1/notices/areas/{SHANGPING_VILLAGE}/notices")
    assert [item["title"] for item in board.json()["items"]] == ["停水通知"]  # the same board the API shows


async def test_another_township_is_neither_offered_nor_accepted(console: AppClient, open_browser: Any) -> None:
    await staff(console, "meilin_admin", "township_admin", MEILIN_TOWNSHIP)
    await switch_on(console, YUNXI_TOWN)
    await Notice.create(area_id=YUNXI_TOWN, title="云溪镇公告", body="…", valid_from="2026-01-01T00:00:00Z",
                        published_by="county")
    meilin = await signed_in(open_browser, "meilin_admin")
    assert (await meilin.get(BOARD)).status_code == 404  # Meilin has not switched it on
    await switch_on(console, MEILIN_TOWNSHIP)
    board = await meilin.open(BOARD)
    assert board.status_code == 200
    assert "云溪" not in board.text and YUNXI_TOWN[:9] not in board.text
    refused = await meilin.submit(BOARD, {"title": "越界", "body": "不应发布", "area": SHANGPING_VILLAGE})
    assert refused.status_code == 422 and 'id="area-error"' in refused.text
    assert not await Notice.exists(title="越界")


async def test_a_township_without_the_module_is_not_offered_to_the_county(console: AppClient,
                                                                         open_browser: Any) -> None:
    await staff(console, "county", "county_admin", "350899000000")
    await switch_on(console, YUNXI_TOWN)
    county = await signed_in(open_browser, "county")
    board = await county.open(BOARD)
    assert f'value="{SHANGPING_VILLAGE}"' in board.text and f'value="{MEILIN_TOWNSHIP}"' not in board.text
    refused = await county.submit(BOARD, {"title": "梅林", "body": "模块未开", "area": MEILIN_TOWNSHIP})
    assert refused.status_code == 422 and not await Notice.exists(title="梅林")


async def test_the_permission_and_the_form_token_are_checked(console: AppClient, open_browser: Any) -> None:
    await staff(console, "kiosk", "kiosk")
    await staff(console, "lin", "township_admin")
    await switch_on(console, YUNXI_TOWN)
    kiosk: Browser = await signed_in(open_browser, "kiosk")
    assert (await kiosk.get(BOARD)).status_code == 403
    assert MENU_LINK not in (await kiosk.get("/console/")).text
    lin = await signed_in(open_browser, "lin")
    forged = await lin.post(BOARD, data={"title": "伪造", "body": "跨站", "area": SHANGPING_VILLAGE})
    assert forged.status_code == 403 and not await Notice.exists()
    stranger = open_browser()
    assert (await stranger.get(BOARD)).status_code == 303  # to the sign-in page


@dataclass
class WellsPlugin(SamplePlugin):
    """A plugin with a console page per area, rendered from its own template directory."""

    templates: str = ""

    @hookimpl
    def register_permissions(self, register: Any) -> None:
        register(Permission("wells:record", "Record wells"))

    @hookimpl
    def register_console_routes(self, register: Any) -> None:
        @get("/{area:str}", guards=[requires("wells:record")])
        async def wells_of(request: Request, area: FromPath[str]) -> Any:
            return await console_page(request, "wells.html", area=area)

        register(wells_of)

    @hookimpl
    def register_console_templates(self, register: Any) -> None:
        register(self.templates)


async def test_a_page_naming_its_area_answers_only_where_the_module_is_on(
    make_app: Callable[..., Litestar], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    (tmp_path / "wells.html").write_text(
        '{% extends "console/base.html" %}{% block main %}<h1 id="wells">{{ _("Modules") }} {{ area }}</h1>'
        "{% endblock %}")
    cheap_passwords(monkeypatch)
    plugins = [*builtin_plugins(), WellsPlugin(name="wells", templates=str(tmp_path)),
               WellsPlugin(name="nowhere", templates=str(tmp_path / "missing"))]
    async with running_app(make_app(plugins=plugins)) as client:
        nowhere = (await client.get("/api/v1/plugins")).json()
        assert next(p for p in nowhere if p["name"] == "nowhere")["status"] == "failed"
        await staff(client, "county", "county_admin", DEMO_COUNTY)
        assert (await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/wells", headers=ADMIN)).status_code == 201
        county = Browser(client.app)
        assert (await county.sign_in("county")).status_code == 303
        page = await county.get(f"/console/wells/{SHANGPING_VILLAGE}")
        assert page.status_code == 200 and f'<h1 id="wells">模块 {SHANGPING_VILLAGE}</h1>' in page.text
        assert (await county.get(f"/console/wells/{NANYANG_VILLAGE}")).status_code == 404  # Shimen has not
        await county.aclose()
