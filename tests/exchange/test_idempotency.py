"""Idempotency-Key on exchange writes: replays, conflicts, concurrent requests, expiry."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from tests.conftest import ADMIN, SHANGPING_VILLAGE, SHIMEN_TOWN
from tests.exchange.conftest import PLOTS, PLOTS_SCHEMA, County, plot
from tulou.exchange.idempotency import purge_idempotency_keys
from tulou.exchange.models import Agreement, Change, IdempotentRequest, Record

RECORDS = f"/api/v1/datasets/{PLOTS}/records/"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_a_repeated_create_is_replayed_and_written_once(county: County) -> None:
    body = {"area": SHANGPING_VILLAGE, "data": plot("east field")}  # no id: a second run would make another record
    first = await county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "k-1"))
    second = await county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "k-1"))
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second.headers["etag"] == first.headers["etag"] == '"1"'
    assert second.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await Record.all().count() == 1 and await Change.all().count() == 1
    other = await county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "k-2"))
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


async def test_updates_and_deletes_replay_too(county: County) -> None:
    await county.write("p1", SHANGPING_VILLAGE, plot("east field"))
    url, headers = f"{RECORDS}p1", keyed({**county.keeper, "If-Match": '"1"'}, "put-1")
    replaced = [await county.client.put(url, json={"data": plot("east field", "tea")}, headers=headers) for _ in range(2)]
    assert [r.status_code for r in replaced] == [200, 200] and replaced[1].headers["etag"] == '"2"'  # not 412
    patched = [await county.client.patch(url, json={"data": {"crop": "maize"}}, headers=keyed(county.keeper, "patch-1"))
               for _ in range(2)]
    assert [p.json()["version"] for p in patched] == [3, 3]
    deleted = [await county.client.delete(url, headers=keyed(county.keeper, "del-1")) for _ in range(2)]
    assert [d.status_code for d in deleted] == [204, 204]
    assert (await Record.get(key="p1")).version == 4 and await Change.all().count() == 4


async def test_the_same_key_with_another_request_is_422(county: County) -> None:
    headers = keyed(county.keeper, "k-1")
    assert (await county.client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": plot("a")}, headers=headers)).status_code == 201
    other = await county.client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": plot("b")}, headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    elsewhere = await county.client.put(f"{RECORDS}x", json={"data": plot("b")}, headers=headers)
    assert elsewhere.status_code == 422
    assert await Record.all().count() == 1


async def test_keys_belong_to_their_caller(county: County) -> None:
    body = {"area": SHANGPING_VILLAGE, "data": plot("a")}
    mine = await county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "shared"))
    theirs = await county.client.post(RECORDS, json=body, headers=keyed(county.yunxi_clerk, "shared"))
    assert mine.status_code == 201 and theirs.status_code in (201, 403, 404)
    assert "idempotent-replayed" not in theirs.headers


async def test_a_failed_request_keeps_no_key(county: County) -> None:
    headers = keyed(county.keeper, "k-1")
    bad = await county.client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": {"name": ""}}, headers=headers)
    assert bad.status_code == 422 and await IdempotentRequest.all().count() == 0
    fixed = await county.client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": {"name": ""}}, headers=headers)
    assert fixed.status_code == 422  # run again, not replayed
    assert (await county.client.post(RECORDS, json={"area": SHANGPING_VILLAGE, "data": plot("a")},
                                     headers={**county.keeper, "Idempotency-Key": "bad key"})).status_code == 422


async def test_concurrent_requests_with_one_key_write_once(county: County) -> None:
    body = {"area": SHANGPING_VILLAGE, "data": plot("east field")}
    answers = await asyncio.gather(*(
        county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "race")) for _ in range(5)
    ))
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum("idempotent-replayed" in a.headers for a in answers) == 4
    assert await Record.all().count() == 1 and await Change.all().count() == 1


async def test_keys_are_forgotten_after_a_day(county: County) -> None:
    body = {"area": SHANGPING_VILLAGE, "data": plot("a")}
    first = await county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "old"))
    await IdempotentRequest.filter(key="old").update(created_at=datetime.now(timezone.utc) - timedelta(hours=25))
    again = await county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "old"))
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]  # a new request: the old key expired
    await IdempotentRequest.filter(key="old").update(created_at=datetime.now(timezone.utc) - timedelta(hours=25))
    await county.client.post(RECORDS, json=body, headers=keyed(county.keeper, "fresh"))
    assert await purge_idempotency_keys() == 1
    assert await IdempotentRequest.all().values_list("key", flat=True) == ["fresh"]


async def test_agreement_and_dataset_writes_replay(county: County) -> None:
    from tests.exchange.test_agreements import AGREEMENTS, in_days

    asked = {"dataset": PLOTS, "organisation": county.shimen, "fields": ["crop"], "areas": [SHIMEN_TOWN],
             "purpose": "补贴核对", "expires_at": in_days(30)}
    first, second = [await county.client.post(AGREEMENTS, json=asked, headers=keyed(county.shimen_clerk, "ask-1"))
                     for _ in range(2)]
    assert first.status_code == second.status_code == 201 and first.json()["id"] == second.json()["id"]
    assert await Agreement.all().count() == 1
    approve = f"{AGREEMENTS}{first.json()['id']}/approve"
    decided = [await county.client.post(approve, json={}, headers=keyed(county.keeper, "ok-1")) for _ in range(2)]
    assert [d.status_code for d in decided] == [200, 200] and decided[1].headers["idempotent-replayed"] == "true"
    version = {"schema": {**PLOTS_SCHEMA, "properties": {**PLOTS_SCHEMA["properties"], "note": {"type": "string"}}}}
    added = [await county.client.post(f"/api/v1/datasets/{PLOTS}/versions", json=version, headers=keyed(ADMIN, "v-1"))
             for _ in range(2)]
    assert [a.json()["version"] for a in added] == ["1.1", "1.1"]
