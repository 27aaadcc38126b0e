"""The hash-chained audit log: appends, tamper detection, scope and the verify command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest
from litestar.connection import ASGIConnection
from tortoise import connections
from tortoise.exceptions import ValidationError
from tortoise.transactions import in_transaction

from tests.conftest import ADMIN, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN
from tests.core.sample_plugins import SamplePlugin
from tulou.audit.models import AuditEntry
from tulou.audit.service import record_audit, verify_chain
from tulou.modules.models import ModuleActivation
from tulou.security.authenticators import bearer_token
from tulou.security.principal import Principal

CLERK = {"Authorization": "Bearer yunxi-clerk"}


async def append(count: int, area_code: str | None = YUNXI_TOWN) -> list[AuditEntry]:
    return [await record_audit("tester", "person.read_sensitive", area_code=area_code, target_type="person",
                                target_id=str(n), purpose="benefit check", detail={"n": n, "名": "张三"})
            for n in range(count)]


async def execute(sql: str) -> None:
    await connections.get("default").execute_query(sql)


async def test_appended_entries_form_an_intact_chain(serve: Any) -> None:
    async with serve():
        entries = await append(5)
        report = await verify_chain()
    assert [e.id for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(entries, entries[1:]))
    assert report.ok and report.checked == 5


@pytest.mark.parametrize(
    ("tampering", "broken_id", "reason"),
    [
        (["UPDATE core_audit_entry SET actor = 'mallory' WHERE id = 3"], 3, "hash mismatch"),
        (["UPDATE core_audit_entry SET detail = '{\"n\":9}' WHERE id = 2"], 2, "hash mismatch"),
        (["DELETE FROM core_audit_entry WHERE id = 3"], 4, "gap in sequence"),
        (
            [
                "UPDATE core_audit_entry SET id = -1 WHERE id = 2",
                "UPDATE core_audit_entry SET id = 2 WHERE id = 3",
                "UPDATE core_audit_entry SET id = 3 WHERE id = -1",
            ],
            2,
            "prev_hash mismatch",
        ),
        (["DELETE FROM core_audit_entry WHERE id = 5"], 5, "truncated"),
    ],
    ids=["edited-actor", "edited-detail", "deleted", "swapped", "tail-deleted"],
)
async def test_tampering_is_reported_at_the_first_broken_link(
    serve: Any, tampering: list[str], broken_id: int, reason: str
) -> None:
    async with serve():
        await append(5)
        for sql in tampering:
            await execute(sql)
        report = await verify_chain()
    assert not report.ok
    assert (report.broken_id, report.reason) == (broken_id, reason)


async def test_concurrent_appends_never_fork_the_chain(serve: Any) -> None:
    async with serve():
        await asyncio.gather(*(record_audit(f"actor-{n}", "client.created", target_id=str(n)) for n in range(20)))
        report = await verify_chain()
        prev_hashes = await AuditEntry.all().values_list("prev_hash", flat=True)
    assert report.ok and report.checked == 20
    assert len(set(prev_hashes)) == 20


async def test_an_audited_action_that_rolls_back_leaves_no_entry(serve: Any) -> None:
    async with serve():
        await append(1)
        with pytest.raises(RuntimeError):
            async with in_transaction():
                await record_audit("tester", "person.changed", area_code=YUNXI_TOWN)
                raise RuntimeError("the action failed")
        await append(1)
        count = await AuditEntry.all().count()
        report = await verify_chain()
    assert count == 2 and report.ok


async def test_a_failing_audit_write_fails_the_audited_action(serve: Any) -> None:
    async with serve():
        with pytest.raises(ValidationError):
            async with in_transaction():
                await ModuleActivation.create(area_id=YUNXI_TOWN, plugin="sample", enabled_by="tester")
                await record_audit("tester", "module." + "x" * 100, area_code=YUNXI_TOWN)
        activated = await ModuleActivation.exists(area_id=YUNXI_TOWN)
    assert not activated


async def test_module_switches_are_audited_and_an_audit_failure_refuses_them(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(plugins=[SamplePlugin()]) as client:
        await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/sample", headers=ADMIN)
        await client.delete(f"/api/v1/areas/{YUNXI_TOWN}/modules/sample", headers=ADMIN)
        entries = await AuditEntry.all().values_list("action", "actor", "area_code", "target_type", "target_id")

        async def broken_audit(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("audit store unavailable")

        monkeypatch.setattr("tulou.modules.service.record_audit", broken_audit)
        refused = await client.put(f"/api/v1/areas/{SHIMEN_TOWN}/modules/sample", headers=ADMIN)
        activated = await ModuleActivation.exists(area_id=SHIMEN_TOWN)
    assert entries == [
        ("module.enabled", client.admin_actor, YUNXI_TOWN, "module", "sample"),
        ("module.disabled", client.admin_actor, YUNXI_TOWN, "module", "sample"),
    ]
    assert refused.status_code == 500 and not activated


async def yunxi_clerk(connection: ASGIConnection) -> Principal | None:
    """A township clerk who may read the audit log of Yunxi town only."""
    if bearer_token(connection) != "yunxi-clerk":
        return None
    return Principal(id="clerk", display_name="clerk", permissions=frozenset({"audit:read"}), area_roots=(YUNXI_TOWN,))


async def test_the_audit_api_needs_a_token_and_lists_newest_first(serve: Any) -> None:
    async with serve() as client:
        await append(3)
        anonymous = await client.get("/api/v1/audit")
        listed = await client.get("/api/v1/audit", params={"limit": 100000}, headers=ADMIN)
        page = await client.get("/api/v1/audit", params={"limit": 1, "offset": 1}, headers=ADMIN)
    assert anonymous.status_code == 401
    body = listed.json()
    assert body["total"] == 3 and body["limit"] == 500
    assert [item["id"] for item in body["items"]] == [3, 2, 1]
    assert body["items"][0]["detail"] == {"n": 2, "名": "张三"}
    assert [item["id"] for item in page.json()["items"]] == [2]


async def test_the_audit_api_shows_only_the_callers_areas(serve: Any) -> None:
    async with serve() as client:
        client.app.state.platform.authenticators.append(yunxi_clerk)
        await append(1, YUNXI_TOWN)
        await append(1, SHANGPING_VILLAGE)
        await append(1, SHIMEN_TOWN)
        await append(1, None)
        await record_audit("tester", "module.enabled", area_code=YUNXI_TOWN)
        mine = await client.get("/api/v1/audit", headers=CLERK)
        village = await client.get("/api/v1/audit", params={"area": SHANGPING_VILLAGE}, headers=CLERK)
        by_action = await client.get("/api/v1/audit", params={"action": "module.enabled"}, headers=CLERK)
        elsewhere = await client.get("/api/v1/audit", params={"area": SHIMEN_TOWN}, headers=CLERK)
        admin_all = await client.get("/api/v1/audit", headers=ADMIN)
    assert sorted(item["area_code"] for item in mine.json()["items"]) == sorted([SHANGPING_VILLAGE, YUNXI_TOWN, YUNXI_TOWN])
    assert [item["area_code"] for item in village.json()["items"]] == [SHANGPING_VILLAGE]
    assert [item["action"] for item in by_action.json()["items"]] == ["module.enabled"]
    assert elsewhere.status_code == 404 and elsewhere.json()["errors"][0]["field"] == "area"
    assert admin_all.json()["total"] == 5


def run_tulou(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TULOU_DATABASE__URL": database_url, "TULOU_DEFAULT_LOCALE": "en"}
    return subprocess.run([sys.executable, "-m", "tulou", *args], capture_output=True, text=True, env=env, timeout=120)


async def test_audit_verify_exits_1_at_the_first_broken_link(serve: Any, database_url: str) -> None:
    async with serve():
        await append(4)
        intact = await asyncio.to_thread(run_tulou, database_url, "audit", "verify")
        await execute("UPDATE core_audit_entry SET purpose = 'curiosity' WHERE id = 2")
        broken = await asyncio.to_thread(run_tulou, database_url, "audit", "verify")
    assert intact.returncode == 0 and intact.stdout.strip() == "chain intact: 4 entries"
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    assert "entry 2" in broken.stderr and "edited" in broken.stderr
