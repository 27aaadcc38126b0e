"""Module activation per township, and the gate in front of plugin routes."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN
from tests.core.sample_plugins import SamplePlugin
from tulou.api import ActivationPolicy
from tulou.modules.models import ActivationEvent, ModuleActivation


def modules_url(code: str, plugin: str = "sample") -> str:
    return f"/api/v1/areas/{code}/modules/{plugin}"


def hello(code: str, plugin: str = "sample") -> str:
    return f"/api/v1/{plugin}/areas/{code}/hello"


async def test_optional_module_is_off_until_a_township_enables_it(serve: Any) -> None:
    plugin = SamplePlugin()
    async with serve(plugins=[plugin]) as client:
        before = await client.get(hello(SHANGPING_VILLAGE))
        enabled = await client.put(modules_url(YUNXI_TOWN), headers=ADMIN)
        again = await client.put(modules_url(YUNXI_TOWN), headers=ADMIN)
        in_town = await client.get(hello(YUNXI_TOWN))
        in_village = await client.get(hello(SHANGPING_VILLAGE))
        other_town = await client.get(hello(SHIMEN_TOWN))
        other_village = await client.get(hello(NANYANG_VILLAGE))
    assert before.status_code == 404
    assert before.json()["detail"] == "该区域未启用此模块"
    assert enabled.status_code == 201 and enabled.json()["enabled"] is True
    assert enabled.json()["enabled_by"] == client.admin_actor
    assert again.status_code == 200
    assert in_town.json() == {"plugin": "sample", "area": YUNXI_TOWN}
    assert in_village.status_code == 200
    assert other_town.status_code == 404 and other_village.status_code == 404
    assert plugin.enabled == [YUNXI_TOWN]


async def test_disabling_closes_the_routes_and_is_recorded(serve: Any) -> None:
    plugin = SamplePlugin()
    async with serve(plugins=[plugin]) as client:
        await client.put(modules_url(YUNXI_TOWN), headers=ADMIN)
        disabled = await client.delete(modules_url(YUNXI_TOWN), headers=ADMIN)
        after = await client.get(hello(SHANGPING_VILLAGE))
        events = await ActivationEvent.filter(area_id=YUNXI_TOWN).values_list("action", "actor")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert after.status_code == 404
    admin = client.admin_actor
    assert [(str(a.value), actor) for a, actor in events] == [("enabled", admin), ("disabled", admin)]
    assert plugin.disabled == [YUNXI_TOWN]


async def test_a_failing_enable_hook_rolls_the_activation_back(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin(fail_on_enable=True)]) as client:
        response = await client.put(modules_url(YUNXI_TOWN), headers={**ADMIN, "Accept-Language": "en"})
        assert not await ModuleActivation.exists(area_id=YUNXI_TOWN)
        assert not await ActivationEvent.exists(area_id=YUNXI_TOWN)
        route = await client.get(hello(YUNXI_TOWN))
    assert response.status_code == 409
    assert "cannot provision today" in response.json()["detail"]
    assert route.status_code == 404


async def test_required_modules_are_always_on_and_cannot_be_disabled(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin(activation=ActivationPolicy.REQUIRED)]) as client:
        route = await client.get(hello(NANYANG_VILLAGE))
        refused = await client.delete(modules_url(SHIMEN_TOWN), headers=ADMIN)
    assert route.status_code == 200
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "plugin"


async def test_automatic_modules_are_on_for_townships_created_after_installation(serve: Any) -> None:
    plugin = SamplePlugin(activation=ActivationPolicy.AUTOMATIC)
    async with serve(plugins=[plugin]) as client:
        states = (await client.get(f"/api/v1/areas/{MEILIN_TOWNSHIP}/modules")).json()
        off = await client.delete(modules_url(MEILIN_TOWNSHIP), headers=ADMIN)
        route = await client.get(hello(MEILIN_TOWNSHIP))
    assert states == [
        {"plugin": "sample", "activation": "automatic", "enabled": True, "enabled_by": "demo", "enabled_at": states[0]["enabled_at"]}
    ]
    assert sorted(plugin.enabled) == sorted([YUNXI_TOWN, SHIMEN_TOWN, MEILIN_TOWNSHIP])
    assert off.status_code == 200 and route.status_code == 404


async def test_activation_needs_an_admin_a_township_and_a_known_module(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin()]) as client:
        anonymous = await client.put(modules_url(YUNXI_TOWN))
        wrong = await client.put(modules_url(YUNXI_TOWN), headers={"Authorization": "Bearer nope"})
        village = await client.put(modules_url(SHANGPING_VILLAGE), headers=ADMIN)
        unknown_plugin = await client.put(modules_url(YUNXI_TOWN, "nosuch"), headers=ADMIN)
        unknown_area = await client.put(modules_url("350899109000"), headers=ADMIN)
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert village.status_code == 422 and village.json()["errors"][0]["field"] == "code"
    assert unknown_plugin.status_code == 404 and unknown_plugin.json()["errors"][0]["field"] == "plugin"
    assert unknown_area.status_code == 404


async def test_plugin_routes_need_a_known_area(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin()]) as client:
        unknown = await client.get(hello("350899109999"))
        missing = await client.get("/api/v1/sample/crash")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "area"
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "area"


async def test_a_change_made_by_another_process_is_seen_after_the_cache_age(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin()], web={"module_cache_seconds": 3600}) as client:
        first = await client.get(hello(YUNXI_TOWN))
        await ModuleActivation.create(area_id=YUNXI_TOWN, plugin="sample", enabled_by="elsewhere")
        still_cached = await client.get(hello(YUNXI_TOWN))
        client.app.state.platform.activations.invalidate()
        refreshed = await client.get(hello(YUNXI_TOWN))
    assert first.status_code == 404 and still_cached.status_code == 404
    assert refreshed.status_code == 200
