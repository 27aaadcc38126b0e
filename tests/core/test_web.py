"""Web behaviour every caller relies on: problem bodies, limits, request ids, metrics, schema."""

from __future__ import annotations

from typing import Any

from tests.conftest import YUNXI_TOWN, running_app
from tests.core.sample_plugins import BodyPlugin, SamplePlugin
from tulou.api import ActivationPolicy

REQUIRED = ActivationPolicy.REQUIRED


async def test_unknown_route_is_a_problem_body(serve: Any) -> None:
    async with serve() as client:
        response = await client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404 and body["type"].startswith("urn:tulou:problem:") and body["instance"] == "/api/v1/nowhere"
    assert body["detail"] == "未找到" and body["request_id"] == response.headers["x-request-id"]


async def test_a_crash_leaves_no_stack_trace(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin(activation=REQUIRED)]) as client:
        response = await client.get("/api/v1/sample/crash", params={"area": YUNXI_TOWN})
    assert response.status_code == 500
    text = response.text
    assert "secret internal detail" not in text and "Traceback" not in text
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_oversized_bodies_get_413(serve: Any) -> None:
    url = f"/api/v1/sample/areas/{YUNXI_TOWN}/echo"
    async with serve(plugins=[SamplePlugin(activation=REQUIRED)], web={"max_body_bytes": 2048}) as client:
        small = await client.post(url, json={"text": "x" * 100})
        large = await client.post(url, json={"text": "x" * 5000})
    assert small.status_code == 201 and small.json() == {"text": "x" * 100}
    assert large.status_code == 413
    assert large.headers["content-type"].startswith("application/problem+json")


async def test_request_id_is_echoed_or_made(serve: Any) -> None:
    async with serve() as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        made = await client.get("/healthz")
        hostile = await client.get("/healthz", headers={"X-Request-ID": "x" * 65})
        injected = await client.get("/healthz", headers={"X-Request-ID": "a b\"}"})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert len(hostile.headers["x-request-id"]) == 32 and len(injected.headers["x-request-id"]) == 32


async def test_locale_from_query_then_header_then_default(serve: Any) -> None:
    async with serve() as client:
        default = (await client.get("/api/v1/areas/350899109999")).json()
        header = (await client.get("/api/v1/areas/350899109999", headers={"Accept-Language": "en-US,en;q=0.9"})).json()
        query = (await client.get("/api/v1/areas/350899109999?lang=zh_CN", headers={"Accept-Language": "en"})).json()
        weighted = (await client.get("/api/v1/areas/350899109999", headers={"Accept-Language": "fr;q=1, en;q=0.5"})).json()
    assert default["detail"] == "未找到区域 350899109999"
    assert header["detail"] == "Area 350899109999 not found"
    assert query["detail"] == default["detail"]
    assert weighted["detail"] == header["detail"]


async def test_readyz_reports_database_migrations_and_plugins(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin()]) as client:
        ready = await client.get("/readyz")
        health = await client.get("/healthz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["migrations"] == "ok"
    assert checks["plugins"]["sample"]["status"] == "active"


async def test_readyz_is_503_on_an_unmigrated_database(make_app: Any, tmp_path: Any) -> None:
    app = make_app(plugins=[], database={"url": f"sqlite://{tmp_path / 'empty.sqlite3'}"})
    async with running_app(app, demo=False) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert "pending" in response.json()["checks"]["migrations"]


async def test_metrics_and_openapi_with_plugin_tags(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin()]) as client:
        await client.get("/healthz")
        metrics = await client.get("/metrics")
        schema = (await client.get("/schema/openapi.json")).json()
    assert metrics.status_code == 200 and "litestar_requests_total{app_name=\"tulou\"" in metrics.text
    operation = schema["paths"]["/api/v1/sample/areas/{area}/hello"]["get"]
    assert operation["tags"] == ["plugin: sample"]


async def test_plugins_endpoint_lists_manifest_and_status(serve: Any) -> None:
    async with serve(plugins=[SamplePlugin()]) as client:
        plugins = (await client.get("/api/v1/plugins")).json()
    assert plugins == [
        {
            "name": "sample", "status": "active", "reason": None, "source": "explicit", "version": "1.0.0",
            "title": "sample title", "description": "", "requires_standard": ">=1.0,<2", "activation": "optional",
            "permissions": [], "jobs": ["sample.tick"], "console_pages": [],
        }
    ]


async def test_body_errors_name_the_field_inside_the_body(serve: Any) -> None:
    url = f"/api/v1/bodies/areas/{YUNXI_TOWN}/readings"
    async with serve(plugins=[BodyPlugin()]) as client:
        missing = await client.post(url, json={"count": 1})
        wrong = await client.post(url, json={"title": "t", "count": "many"})
        fine = await client.post(url, json={"title": "t", "count": 2})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "title"
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "count"
    assert fine.status_code == 201
