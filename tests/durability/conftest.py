"""A real ``tulou serve`` on a database of the test's own, set up as an operator would, ready to be killed.

The database is a SQLite file or a new PostgreSQL database (``TULOU_TEST_DATABASE``);
``tulou migrate``, ``tulou demo`` and ``tulou admin create`` prepare it, and everything
after that goes through the HTTP API with the administrator's token. A test module
adds server settings by overriding ``server_settings``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_COUNTY, SHANGPING_VILLAGE, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS
from tests.serverprocess import TulouServer, operator_environment, own_database, serving, set_up_county

ADMIN_NAME, ADMIN_PASSWORD = "crash-admin", "a county administrator's password"
#: A dataset's schema small enough that validating it costs the server little.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1}, "n": {"type": "integer"}},
    "required": ["name"],
    "additionalProperties": False,
}


@pytest.fixture
def server_settings() -> dict[str, str]:
    """``TULOU_*`` variables a test module adds to the server's environment."""
    return {}


def environment(database_url: str, home: Path, **settings: str) -> dict[str, str]:
    return operator_environment(
        database_url, home / "data", TULOU_LOG_LEVEL="WARNING",
        TULOU_IDENTITY__ENCRYPTION_KEYS=TEST_ENCRYPTION_KEYS, TULOU_IDENTITY__BLIND_INDEX_KEY=TEST_BLIND_INDEX_KEY,
        **settings,
    )


@pytest.fixture(scope="session")
def county_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrated, with the demo county and its administrator, by ``tulou`` commands: once, for every test to copy."""
    home = tmp_path_factory.mktemp("county")
    with own_database(home) as url:
        set_up_county(environment(url, home), home, ADMIN_NAME, ADMIN_PASSWORD)
        yield url


@pytest.fixture
def server(county_database: str, tmp_path: Path, server_settings: dict[str, str]) -> Iterator[TulouServer]:
    """``tulou serve`` on a copy of the county's database for this test alone, stopped afterwards."""
    with own_database(tmp_path, template=county_database) as url, \
            serving(environment(url, tmp_path, **server_settings), tmp_path) as running:
        yield running


@pytest.fixture
def admin(server: TulouServer) -> dict[str, str]:
    """The county administrator's header, signed in through the API."""
    return server.sign_in(ADMIN_NAME, ADMIN_PASSWORD)


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


def declare_dataset(server: TulouServer, admin: dict[str, str], dataset: str) -> None:
    """A county department that keeps ``dataset``, published county-wide at once."""
    bureau = created(server.post("/api/v1/organisations/", headers=admin,
                                 json={"name": f"keeper of {dataset}", "kind": "department", "area": DEMO_COUNTY}))
    created(server.post("/api/v1/datasets/", headers=admin, json={
        "id": dataset, "title": {"zh_CN": dataset, "en": dataset}, "classification": "internal", "schema": SCHEMA,
        "owner": bureau["id"], "manager": bureau["id"], "area": DEMO_COUNTY,
    }))


def all_records(server: TulouServer, admin: dict[str, str], dataset: str) -> dict[str, dict[str, Any]]:
    """Every live record of ``dataset`` by id, from its NDJSON export."""
    export = server.get(f"/api/v1/datasets/{dataset}/records:export", headers=admin, timeout=60)
    assert export.status_code == 200, export.text
    records = [json.loads(line) for line in export.text.splitlines()]
    return {record["id"]: record for record in records}


def all_changes(server: TulouServer, admin: dict[str, str], dataset: str) -> list[dict[str, Any]]:
    """The whole change feed of ``dataset``, followed as a reader would."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = server.get(f"/api/v1/datasets/{dataset}/changes", headers=admin, params=params)
        assert page.status_code == 200, page.text
        found.extend(page.json()["changes"])
        if not page.json()["more"]:
            return found
        params["after"] = page.json()["next"]


def assert_feed_matches_records(server: TulouServer, admin: dict[str, str], dataset: str) -> dict[str, dict[str, Any]]:
    """The feed is numbered 1, 2, 3 ... without a gap, and has one change for every version of every record
    (of a dataset where nothing was deleted).

    Returns the records, for the test's own checks.
    """
    records, changes = all_records(server, admin, dataset), all_changes(server, admin, dataset)
    assert [change["seq"] for change in changes] == list(range(1, len(changes) + 1))
    versions = sorted((change["id"], change["version"]) for change in changes)
    assert versions == sorted((key, n) for key, record in records.items() for n in range(1, record["version"] + 1))
    return records


#: A meter the county adds through the API: one number per reading.
METER_MODEL: dict[str, Any] = {
    "id": "county.crash-meter", "category": "meter", "manufacturerName": "Crash Test Instruments", "modelName": "K-9",
    "telemetry": {"level": {"type": "number", "minimum": 0}}, "heartbeatSeconds": 600,
    "supportedProtocol": ["http", "mqtt"],
}


def register_meters(server: TulouServer, admin: dict[str, str], count: int) -> list[dict[str, Any]]:
    """``count`` meters of :data:`METER_MODEL` in a village, each with its token (``id`` and ``token``)."""
    created(server.post("/api/v1/device-models/", headers=admin, json=METER_MODEL))
    return [
        created(server.post("/api/v1/devices/", headers=admin, json={
            "model": METER_MODEL["id"], "serialNumber": f"K9-{n:04d}", "name": f"meter {n}", "area": SHANGPING_VILLAGE,
        }))
        for n in range(count)
    ]
