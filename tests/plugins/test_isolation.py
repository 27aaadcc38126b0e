"""One faulty plugin is marked failed with its reason; the core and the other plugins serve on.

The first half runs apps in-process from explicit plugin lists (:mod:`.fake_plugins`).
The second installs faulty plugin distributions from ``tests/fixtures/plugins`` with pip
and goes through the doors an operator uses: entry points, ``tulou serve`` and the CLI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.conftest import (
    ADMIN,
    NANYANG_VILLAGE,
    SHANGPING_VILLAGE,
    YUNXI_TOWN,
    AppClient,
    copy_of_template,
    running_app,
)
from tests.plugins.fake_plugins import (
    AreaInQuery,
    BlocksOnStart,
    DuplicateJob,
    FailsTwice,
    ForeignPermission,
    HangsOnStart,
    Healthy,
    NamedLikeACoreSection,
    RaisesInRegisterRoutes,
    RaisesOnStart,
    RouteWithoutArea,
    SettingWithoutDefault,
)
from tests.serverprocess import TulouServer, pip_install, serving, tulou

PROBLEM = "application/problem+json"
FAST_START = {"startup_warn_seconds": 0.1, "startup_timeout_seconds": 0.3}


# -- in-process apps -----------------------------------------------------------------


@asynccontextmanager
async def running(
    make_app: Callable[..., Litestar],
    plugins: list[object],
    enable: list[str] | None = None,
    **overrides: Any,
) -> AsyncIterator[AppClient]:
    """An app with exactly ``plugins`` and the demo county.

    The modules named in ``enable`` (default: every plugin still usable) are switched on
    in Yunxi Town.
    """
    app = make_app(plugins=plugins, **overrides)
    async with running_app(app) as client:
        usable = [record.name for record in app.state.platform.plugins.usable()]
        for name in usable if enable is None else enable:
            response = await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/{name}", headers=ADMIN)
            assert response.status_code == 201, response.text
        yield client


async def plugin_states(client: AppClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/plugins")
    assert response.status_code == 200
    return {plugin["name"]: plugin for plugin in response.json()}


async def wait_for_status(
    client: AppClient, name: str, status: str, within: float = 5.0
) -> dict[str, Any]:
    """The plugin's listing once it reaches ``status``, or as it is when ``within`` runs out."""
    deadline = time.monotonic() + within
    while True:
        state = (await plugin_states(client))[name]
        if state["status"] == status or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.05)


async def hello(
    client: AppClient, plugin: str, area: str = SHANGPING_VILLAGE
) -> httpx.Response:
    return await client.get(f"/api/v1/{plugin}/areas/{area}/hello")


@pytest.mark.parametrize("faulty_first", [True, False], ids=["faulty-first", "faulty-last"])
async def test_raising_in_register_routes_fails_only_that_plugin(
    make_app: Any, faulty_first: bool
) -> None:
    plugins: list[object] = [RaisesInRegisterRoutes(), Healthy()]
    async with running(make_app, plugins if faulty_first else plugins[::-1]) as client:
        states = await plugin_states(client)
        assert states["exploding"]["status"] == "failed"
        assert "register_routes" in states["exploding"]["reason"]
        assert "routes exploded" in states["exploding"]["reason"]
        assert states["healthy"]["status"] == "active"
        assert states["healthy"]["reason"] is None

        answer = await hello(client, "healthy")
        assert answer.status_code == 200
        assert answer.json() == {"plugin": "healthy", "area": SHANGPING_VILLAGE}
        # What it registered before raising is dropped, not half-mounted.
        assert (await hello(client, "exploding")).status_code == 404


async def test_a_failed_plugin_cannot_be_enabled_and_says_why(make_app: Any) -> None:
    async with running(make_app, [RaisesInRegisterRoutes(), Healthy()]) as client:
        response = await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/exploding", headers=ADMIN)
        assert response.status_code == 409
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "routes exploded" in response.json()["detail"]


async def test_incompatible_standard_fails_the_plugin(make_app: Any) -> None:
    async with running(
        make_app, [Healthy(name="future", requires_standard=">=9,<10"), Healthy()]
    ) as client:
        states = await plugin_states(client)
        assert states["future"]["status"] == "failed"
        assert "requires standard >=9,<10" in states["future"]["reason"]
        assert states["future"]["requires_standard"] == ">=9,<10"
        assert (await hello(client, "future")).status_code == 404
        assert (await hello(client, "healthy")).status_code == 200


async def test_a_route_without_an_area_fails_the_plugin(make_app: Any) -> None:
    async with running(make_app, [RouteWithoutArea(), Healthy()]) as client:
        states = await plugin_states(client)
        assert states["arealess"]["status"] == "failed"
        assert "register_routes" in states["arealess"]["reason"]
        assert "/everywhere" in states["arealess"]["reason"]
        assert "'area'" in states["arealess"]["reason"]
        assert (await client.get("/api/v1/arealess/everywhere")).status_code == 404
        assert (await hello(client, "arealess")).status_code == 404
        assert (await hello(client, "healthy")).status_code == 200


async def test_routes_naming_the_area_in_path_or_query_are_accepted(make_app: Any) -> None:
    """The check behind the previous test must not refuse good routes."""
    async with running(make_app, [Healthy(), AreaInQuery()]) as client:
        states = await plugin_states(client)
        assert (states["healthy"]["status"], states["healthy"]["reason"]) == ("active", None)
        assert (states["querying"]["status"], states["querying"]["reason"]) == ("active", None)
        assert (await hello(client, "healthy")).status_code == 200
        report = await client.get("/api/v1/querying/report", params={"area": SHANGPING_VILLAGE})
        assert report.status_code == 200
        assert report.json() == {"plugin": "querying", "area": SHANGPING_VILLAGE}
        assert (
            await client.get("/api/v1/querying/report", params={"area": NANYANG_VILLAGE})
        ).status_code == 404


async def test_a_permission_outside_the_plugins_prefix_fails_it(make_app: Any) -> None:
    async with running(make_app, [ForeignPermission(), Healthy()]) as client:
        states = await plugin_states(client)
        assert states["squatter"]["status"] == "failed"
        assert "register_permissions" in states["squatter"]["reason"]
        assert "'healthy:read'" in states["squatter"]["reason"]
        assert states["squatter"]["permissions"] == []  # the good one is dropped with the bad
        assert (await hello(client, "squatter")).status_code == 404
        assert (await hello(client, "healthy")).status_code == 200


async def test_a_duplicate_job_id_fails_the_plugin(make_app: Any) -> None:
    async with running(make_app, [DuplicateJob(), Healthy()]) as client:
        states = await plugin_states(client)
        assert states["twice"]["status"] == "failed"
        assert "register_jobs" in states["twice"]["reason"]
        assert "'tick'" in states["twice"]["reason"]
        assert states["twice"]["jobs"] == []
        assert (await hello(client, "healthy")).status_code == 200


async def test_a_hanging_start_is_failed_after_the_timeout_and_answers_503(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tulou")
    async with running(
        make_app, [HangsOnStart(), Healthy()], ["healthy"], plugin_runtime=FAST_START
    ) as client:
        starting = await hello(client, "hanging")
        state = await wait_for_status(client, "hanging", "failed")
        assert state["status"] == "failed"
        assert state["reason"] == "start-up timed out after 0.3 s"

        answer = await hello(client, "hanging")
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith(PROBLEM)
        assert answer.json()["status"] == 503
        assert "timed out" in answer.json()["detail"]
        assert (await hello(client, "healthy")).status_code == 200
        assert (await plugin_states(client))["healthy"]["status"] == "active"
    # Before the time-out it was still starting: 503 as well, never its handler's 200.
    assert starting.status_code == 503
    assert any("hanging still starting" in record.getMessage() for record in caplog.records)


async def test_a_raising_start_fails_the_plugin(make_app: Any) -> None:
    async with running(
        make_app, [RaisesOnStart(), Healthy()], ["healthy"], plugin_runtime=FAST_START
    ) as client:
        state = await wait_for_status(client, "stumbling", "failed")
        assert state["status"] == "failed"
        assert (
            state["reason"] == "app_started raised ConnectionError: the weather station is offline"
        )
        assert (await hello(client, "stumbling")).status_code == 503
        assert (await hello(client, "healthy")).status_code == 200


async def test_a_blocking_sync_start_does_not_freeze_the_event_loop(make_app: Any) -> None:
    blocking = BlocksOnStart()
    try:
        async with running(make_app, [blocking, Healthy()]) as client:
            assert await asyncio.to_thread(blocking.started.wait, 5.0)
            # While its hook is still asleep, the app answers: the loop is not the one sleeping.
            assert (await client.get("/healthz")).status_code == 200
            assert (await hello(client, "healthy")).status_code == 200
            assert (await plugin_states(client))["blocking"]["status"] == "starting"
            assert (await hello(client, "blocking")).status_code == 503

            blocking.released.set()
            state = await wait_for_status(client, "blocking", "active")
            assert state["status"] == "active"
            assert (await hello(client, "blocking")).status_code == 200
    finally:
        blocking.released.set()


async def test_plugins_endpoint_lists_every_status_and_reason(make_app: Any) -> None:
    plugins = [Healthy(), HangsOnStart(), Healthy(name="future", requires_standard=">=9,<10")]
    async with running(
        make_app, plugins, plugin_runtime={"startup_warn_seconds": 5, "startup_timeout_seconds": 10}
    ) as client:
        listing = (await client.get("/api/v1/plugins")).json()
        assert [plugin["name"] for plugin in listing] == ["future", "hanging", "healthy"]
        summary = {plugin["name"]: (plugin["status"], plugin["reason"]) for plugin in listing}
        assert summary == {
            "future": ("failed", "requires standard >=9,<10 but this core implements 1.0.0"),
            "hanging": ("starting", None),
            "healthy": ("active", None),
        }
        assert {plugin["source"] for plugin in listing} == {"explicit"}


async def test_readyz_reports_failed_plugins_but_stays_ready(make_app: Any) -> None:
    async with running(make_app, [RaisesInRegisterRoutes(), Healthy()]) as client:
        response = await client.get("/readyz")
        assert response.status_code == 200
        plugins = response.json()["checks"]["plugins"]
        assert plugins["exploding"]["status"] == "failed"
        assert plugins["healthy"] == {"status": "active", "reason": None}


# Found as core bugs while these tests were written, and fixed since.


async def test_a_settings_section_without_defaults_fails_only_that_plugin(make_app: Any) -> None:
    async with running(make_app, [SettingWithoutDefault(), Healthy()]) as client:
        states = await plugin_states(client)
        assert states["needy"]["status"] == "failed"
        assert "register_settings" in states["needy"]["reason"]
        assert (await hello(client, "healthy")).status_code == 200


def test_a_plugin_cannot_replace_a_core_settings_section(make_app: Any) -> None:
    platform = make_app(plugins=[NamedLikeACoreSection(), Healthy()]).state.platform
    assert platform.settings.jobs.enabled is False  # the core's section, as the fixture set it
    assert platform.plugins.get("jobs").status.value == "failed"


async def test_a_failed_plugin_keeps_its_first_reason(make_app: Any) -> None:
    async with running(make_app, [FailsTwice(), Healthy()]) as client:
        state = (await plugin_states(client))["twofold"]
        assert state["status"] == "failed"
        assert state["reason"] == "register_jobs raised LookupError: no job table"


# -- installed distributions, a real server and the CLI ---------------------------------

FAULTY = ["broken_import", "slow_start", "wrong_standard"]
SLOW_START_TIMEOUT_SECONDS = 1
OPERATOR, OPERATOR_PASSWORD = "operator", "a county administrator's password"


@pytest.fixture(scope="module")
def faulty_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where pip installed the faulty distributions from ``tests/fixtures/plugins``."""
    return pip_install(FAULTY, tmp_path_factory.mktemp("faulty-plugins"))


@pytest.fixture(scope="module")
def server_database(
    template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database for the server alone, copied from the session's template."""
    with copy_of_template(template_database, tmp_path_factory.mktemp("server-db")) as url:
        yield url


@pytest.fixture(scope="module")
def operator_env(
    faulty_site: Path, server_database: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """An operator's environment with the faulty plugins installed beside the built-in ones."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TULOU_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(faulty_site), os.environ.get("PYTHONPATH")])),
        TULOU_DATABASE__URL=server_database,
        TULOU_DATA_DIR=str(tmp_path_factory.mktemp("server-data")),
        TULOU_PLUGIN_RUNTIME__STARTUP_WARN_SECONDS="0.5",
        TULOU_PLUGIN_RUNTIME__STARTUP_TIMEOUT_SECONDS=str(SLOW_START_TIMEOUT_SECONDS),
        TULOU_JOBS__ENABLED="false",
    )
    return env


@pytest.fixture(scope="module")
def server(
    operator_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TulouServer]:
    """``tulou demo`` and ``tulou admin create``, then ``tulou serve`` until /readyz answers 200."""
    home = tmp_path_factory.mktemp("server-home")
    demo = tulou(operator_env, "demo", cwd=home)
    assert demo.returncode == 0, demo.stderr
    admin = tulou(operator_env, "admin", "create", OPERATOR, "--password-stdin", cwd=home, input=OPERATOR_PASSWORD)
    assert admin.returncode == 0, admin.stderr
    with serving(operator_env, home) as running_server:
        yield running_server


@pytest.fixture(scope="module")
def operator(server: TulouServer) -> dict[str, str]:
    """The county administrator's header, signed in as an operator would."""
    return server.sign_in(OPERATOR, OPERATOR_PASSWORD)


def listed(server: TulouServer) -> dict[str, dict[str, Any]]:
    response = server.get("/api/v1/plugins")
    assert response.status_code == 200
    return {plugin["name"]: plugin for plugin in response.json()}


def wait_for_server_status(
    server: TulouServer, name: str, status: str, within: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        state = listed(server)[name]
        if state["status"] == status or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


@pytest.mark.slow
def test_server_reports_each_faulty_plugin_and_serves_the_rest(server: TulouServer) -> None:
    plugins = listed(server)
    assert plugins["broken_import"]["status"] == "failed"
    assert "import" in plugins["broken_import"]["reason"]
    assert "tulou_dependency_nobody_installed" in plugins["broken_import"]["reason"]
    assert plugins["broken_import"]["source"] == "entry point tulou_broken_import.plugin"
    assert plugins["wrong_standard"]["status"] == "failed"
    assert "requires standard >=9,<10" in plugins["wrong_standard"]["reason"]

    slow = wait_for_server_status(
        server, "slow_start", "failed", within=SLOW_START_TIMEOUT_SECONDS + 10
    )
    assert slow["status"] == "failed"
    assert slow["reason"] == f"start-up timed out after {SLOW_START_TIMEOUT_SECONDS} s"
    assert listed(server)["notices"]["status"] == "active"

    stalled = server.get(f"/api/v1/slow_start/areas/{SHANGPING_VILLAGE}/ping")
    assert stalled.status_code == 503
    assert stalled.headers["content-type"].startswith(PROBLEM)
    assert "timed out" in stalled.json()["detail"]
    assert server.get(f"/api/v1/wrong_standard/areas/{SHANGPING_VILLAGE}/ping").status_code == 404
    assert server.get("/healthz").status_code == 200


@pytest.mark.slow
def test_server_enables_notices_for_one_township_only(
    server: TulouServer, operator: dict[str, str]
) -> None:
    board = f"/api/v1/notices/areas/{SHANGPING_VILLAGE}/notices"
    assert server.get(board).status_code == 404  # not enabled anywhere yet

    anonymous = server.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/notices")
    assert anonymous.status_code == 401
    enabled = server.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/notices", headers=operator)
    assert enabled.status_code == 201, enabled.text
    assert enabled.json()["enabled"] is True

    assert server.get(board).status_code == 200
    elsewhere = server.get(f"/api/v1/notices/areas/{NANYANG_VILLAGE}/notices")
    assert elsewhere.status_code == 404
    assert elsewhere.headers["content-type"].startswith(PROBLEM)


@pytest.mark.slow
def test_failed_plugins_cannot_be_enabled(server: TulouServer, operator: dict[str, str]) -> None:
    response = server.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/wrong_standard", headers=operator)
    assert response.status_code == 409
    assert "requires standard" in response.json()["detail"]


@pytest.mark.slow
def test_cli_lists_failed_plugins_with_their_reasons(
    operator_env: dict[str, str], tmp_path: Path
) -> None:
    result = tulou(operator_env, "plugins", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert lines["broken_import"].split()[1] == "failed"
    assert "import failed: ModuleNotFoundError" in lines["broken_import"]
    assert lines["wrong_standard"].split()[1] == "failed"
    assert "requires standard >=9,<10" in lines["wrong_standard"]
    # Listing does not start plugins, so slow_start has nothing to time out on here.
    assert lines["slow_start"].split()[1] == "loaded"
    assert lines["notices"].split()[1] == "loaded"


def listed_by_cli(env: dict[str, str], cwd: Path) -> dict[str, dict[str, Any]]:
    result = tulou(env, "plugins", "list", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return {plugin["name"]: plugin for plugin in json.loads(result.stdout)}


@pytest.mark.slow
def test_allow_list_loads_only_the_named_plugins(
    operator_env: dict[str, str], tmp_path: Path
) -> None:
    plugins = listed_by_cli({**operator_env, "TULOU_PLUGINS": "notices"}, tmp_path)
    assert list(plugins) == ["notices"]
    assert plugins["notices"]["status"] == "loaded"


@pytest.mark.slow
def test_disable_list_hides_one_plugin(operator_env: dict[str, str], tmp_path: Path) -> None:
    everything = listed_by_cli(operator_env, tmp_path)
    assert set(FAULTY) | {"notices"} <= set(everything)
    plugins = listed_by_cli({**operator_env, "TULOU_DISABLE_PLUGINS": "broken_import"}, tmp_path)
    assert set(plugins) == set(everything) - {"broken_import"}
