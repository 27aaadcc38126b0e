"""The overview and modules pages: only the caller's areas, counted right; switching a module as the API does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar, get

from tests.conftest import (
    ADMIN, DEMO_COUNTY, MEILIN_TOWNSHIP, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN,
    AppClient, builtin_plugins, cheap_passwords, running_app,
)
from tests.console.conftest import signed_in, staff
from tests.core.sample_plugins import SamplePlugin
from tulou.api import ActivationPolicy, ConsolePage, Permission, PluginManifest, hookimpl
from tulou.audit.models import AuditEntry
from tulou.devices.models import Connection, Device
from tulou.modules.models import ModuleActivation
from tulou.security.guards import PUBLIC

MEILIN_VILLAGE = "350899200201"
MOISTURE = {"moisture": {"type": "number", "unit": "P1", "minimum": 0, "maximum": 100}}
YUNXI_MODULES = f"/console/modules/{YUNXI_TOWN}"


class BoardPlugin(SamplePlugin):
    """A plugin with a permission and a console page."""

    @hookimpl
    def register_permissions(self, register: Any) -> None:
        register(Permission(f"{self.name}:publish", "Publish on the board", "Put notices up and take them down"))

    @hookimpl
    def register_console_pages(self, register: Any) -> None:
        register(ConsolePage(path=f"/console/{self.name}", title="Sample board", permission=f"{self.name}:publish"))


class BrokenPlugin:
    """A plugin asking for a standard this core does not implement."""

    @hookimpl
    def plugin_manifest(self) -> PluginManifest:
        return PluginManifest(name="broken", version="0.3.0", title="Broken", requires_standard=">=9")


PLUGINS = {
    "board": BoardPlugin(name="board"),
    "always": SamplePlugin(name="always", activation=ActivationPolicy.REQUIRED),
    "stubborn": SamplePlugin(name="stubborn", fail_on_enable=True),
}


@pytest.fixture
async def console(make_app: Callable[..., Litestar], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppClient]:
    cheap_passwords(monkeypatch)
    app = make_app(plugins=[*builtin_plugins(), *PLUGINS.values(), BrokenPlugin()])
    async with running_app(app) as client:
        yield client


async def sensors(client: AppClient, village: str, states: list[Connection]) -> None:
    """Devices in ``village``, in the given connection states."""
    model = f"test.soil{village}"
    made = await client.post("/api/v1/device-models/", headers=ADMIN, json={
        "id": model, "category": "sensor", "manufacturerName": "测试仪器", "modelName": "Soil", "telemetry": MOISTURE})
    assert made.status_code == 201, made.text
    for number, state in enumerate(states):
        device = await client.post("/api/v1/devices/", headers=ADMIN, json={
            "model": model, "serialNumber": f"S-{village}-{number}", "name": f"墒情{number}", "area": village})
        assert device.status_code == 201, device.text
        await Device.filter(uid=device.json()["id"]).update(connection=state)


async def test_a_township_admin_sees_their_township_only(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    await sensors(console, SHANGPING_VILLAGE, [Connection.ONLINE, Connection.ONLINE, Connection.OFFLINE])
    await sensors(console, MEILIN_VILLAGE, [Connection.ONLINE, Connection.UNKNOWN])
    enabled = await console.put(f"/api/v1/areas/{MEILIN_TOWNSHIP}/modules/board", headers=ADMIN)
    assert enabled.status_code == 201
    lin = await signed_in(open_browser, "lin")
    page = (await lin.open("/console/")).text
    assert "云溪镇" in page and "上坪村" in page
    assert "已开启 1 个，未开启 3 个" in page  # "always" is on; board, notices and stubborn are off
    assert "2 台在线" in page and "1 台离线" in page and "尚未上报" not in page
    for elsewhere in ("梅林", "石门", MEILIN_TOWNSHIP[:9], SHIMEN_TOWN[:9], "Meilin"):
        assert elsewhere not in page, elsewhere
    assert "授予角色" in page  # lin's own binding, recorded in Yunxi
    assert await AuditEntry.filter(area_code=MEILIN_TOWNSHIP).exists()  # but not shown to lin


async def test_the_county_sees_every_township_and_staff_without_rights_see_less(
    console: AppClient, open_browser: Any,
) -> None:
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    await staff(console, "audit", "auditor")
    await staff(console, "cun", "village_committee", SHANGPING_VILLAGE)
    await sensors(console, MEILIN_VILLAGE, [Connection.UNKNOWN])
    county = (await (await signed_in(open_browser, "county")).open("/console/")).text
    assert all(name in county for name in ("云溪县", "云溪镇", "石门镇", "梅林乡", "1 台尚未上报", "最近操作"))
    auditor = (await (await signed_in(open_browser, "audit")).open("/console/")).text
    assert "云溪镇" in auditor and "最近操作" in auditor and "台在线" not in auditor  # no device:read
    assert f"/console/modules/{YUNXI_TOWN}" not in auditor  # no modules:manage
    village = (await (await signed_in(open_browser, "cun")).open("/console/")).text
    assert "上坪村" in village and "竹林村" not in village and "最近操作" not in village
    assert 'href="/console/modules"' not in village


async def test_the_modules_page_shows_each_plugins_manifest_and_failures(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    page = (await (await signed_in(open_browser, "lin")).open(YUNXI_MODULES)).text
    assert "云溪镇的模块" in page
    board = page.split('id="module-board"')[1].split("</li>\n  <li")[0]
    assert "board title" in board and "1.0.0" in board and "&gt;=1.0,&lt;2" in board
    assert "board:publish" in board and "Publish on the board" in board and f"{YUNXI_MODULES}/board/enable" in board
    broken = page.split('id="module-broken"')[1].split("</li>")[0]
    assert "故障" in broken and "requires standard &gt;=9" in broken and "/enable" not in broken
    always = page.split('id="module-always"')[1].split("</li>")[0]
    assert "始终开启" in always and "/disable" not in always


async def test_switching_a_module_on_and_off_asks_first_and_is_audited(console: AppClient, open_browser: Any) -> None:
    lin_id = await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    ask = await lin.open(f"{YUNXI_MODULES}/board/enable")
    assert "确定为云溪镇开启board title吗" in ask.text and "board:publish" in ask.text and "Publish on the board" in ask.text
    assert not await ModuleActivation.exists(plugin="board")
    done = await lin.submit(f"{YUNXI_MODULES}/board/enable")
    assert done.headers["location"] == f"{YUNXI_MODULES}?done=enabled&plugin=board"
    shown = await lin.open(done.headers["location"])
    assert "已为云溪镇开启board title。" in shown.text
    assert await ModuleActivation.exists(plugin="board", area_id=YUNXI_TOWN, enabled_by=f"account:{lin_id}")
    assert await AuditEntry.exists(action="module.enabled", actor=f"account:{lin_id}", target_id="board")
    assert "操作人：lin" in shown.text.split('id="module-board"')[1].split("</li>")[0]
    fragment = await lin.get(f"{YUNXI_MODULES}/board/disable", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "数据会保留" in fragment.text
    assert (await lin.submit(f"{YUNXI_MODULES}/board/disable")).status_code == 303
    assert not await ModuleActivation.exists(plugin="board")
    assert await AuditEntry.exists(action="module.disabled", actor=f"account:{lin_id}", target_id="board")


async def test_a_module_that_refuses_is_reported_and_nothing_changes(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = await signed_in(open_browser, "lin")
    await lin.open(f"{YUNXI_MODULES}/stubborn/enable")
    refused = await lin.submit(f"{YUNXI_MODULES}/stubborn/enable")
    assert refused.status_code == 409 and "cannot provision today" in refused.text and 'role="alert"' in refused.text
    assert not await ModuleActivation.exists(plugin="stubborn")
    await lin.open(f"{YUNXI_MODULES}/always/disable")
    assert (await lin.submit(f"{YUNXI_MODULES}/always/disable")).status_code == 409
    assert (await lin.open(f"{YUNXI_MODULES}/nosuch/enable")).status_code == 404


async def test_the_township_picker_lists_only_the_callers_townships(console: AppClient, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    await staff(console, "county", "county_admin", DEMO_COUNTY)
    lin = await signed_in(open_browser, "lin")
    assert (await lin.get("/console/modules")).headers["location"] == YUNXI_MODULES
    picker = (await (await signed_in(open_browser, "county")).open("/console/modules")).text
    assert all(f'href="/console/modules/{code}"' in picker for code in (YUNXI_TOWN, SHIMEN_TOWN, MEILIN_TOWNSHIP))
    assert (await lin.get(f"/console/modules/{SHANGPING_VILLAGE}")).status_code == 422  # not a township


async def test_a_plugin_page_is_in_the_menu_where_its_module_is_on_and_the_caller_may(
    console: AppClient, open_browser: Any,
) -> None:
    @get("/console/board", opt=PUBLIC)
    async def board_page() -> str:
        return "the board"

    await staff(console, "lin", "township_admin")
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    await staff(console, "audit", "auditor")
    lin, mei, auditor = [await signed_in(open_browser, name) for name in ("lin", "mei", "audit")]
    menu_link = 'href="/console/board"'
    await lin.submit(f"{YUNXI_MODULES}/board/enable")
    assert menu_link not in (await lin.open("/console/")).text  # no route serves it yet
    console.app.register(board_page)
    assert menu_link in (await lin.open("/console/")).text
    assert menu_link not in (await mei.open("/console/")).text  # off in Meilin
    assert menu_link not in (await auditor.open("/console/")).text  # on, but no board:publish


async def test_another_townships_modules_are_not_found(console: AppClient, open_browser: Any) -> None:
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    mei = await signed_in(open_browser, "mei")
    for url in (YUNXI_MODULES, f"{YUNXI_MODULES}/board/enable", f"/console/modules/{NANYANG_VILLAGE}"):
        page = await mei.open(url)
        assert page.status_code == 404 and "云溪" not in page.text, url
    assert (await mei.submit(f"{YUNXI_MODULES}/board/enable")).status_code == 404
    assert not await ModuleActivation.exists(plugin="board")
