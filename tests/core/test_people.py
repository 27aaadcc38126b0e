"""People and organisations over HTTP: encryption at rest, masking, scope and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.connection import ASGIConnection
from tortoise import connections

from tests.conftest import ADMIN, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN
from tulou.audit.models import AuditEntry
from tulou.audit.service import verify_chain
from tulou.identity.models import Person
from tulou.identity.resident_id import check_character
from tulou.security.authenticators import bearer_token
from tulou.security.principal import Principal

PEOPLE = "/api/v1/people"
ORGANISATIONS = "/api/v1/organisations"

# token: (permissions, area roots)
STAFF = {
    "yunxi-reader": ({"person:read", "organisation:read"}, (YUNXI_TOWN,)),
    "yunxi-steward": ({"person:read", "person:read_sensitive"}, (YUNXI_TOWN,)),
    "yunxi-writer": ({"person:read", "person:write", "organisation:read", "organisation:write"}, (YUNXI_TOWN,)),
    "shimen-steward": ({"person:read", "person:read_sensitive"}, (SHIMEN_TOWN,)),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def staff(connection: ASGIConnection) -> Principal | None:
    token = bearer_token(connection)
    if token not in STAFF:
        return None
    permissions, roots = STAFF[token]
    return Principal(id=token, display_name=token, permissions=frozenset(permissions), area_roots=roots)


def resident_id(serial: int, birth: str = "19580314") -> str:
    first = f"350899{birth}{serial:03d}"
    return first + check_character(first)


def person(serial: int, village: str = SHANGPING_VILLAGE, **extra: Any) -> dict[str, Any]:
    return {"name": f"林{serial}", "resident_id": resident_id(serial), "home_area": village, **extra}


@pytest.fixture
async def client(serve: Any) -> Any:
    async with serve() as test_client:
        test_client.app.state.platform.authenticators.append(staff)
        yield test_client


async def create(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(PEOPLE + "/", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def test_personal_numbers_are_stored_encrypted(client: Any) -> None:
    created = await create(client, person(11, phone="138 1234 5678"))
    rows = await connections.get("default").execute_query_dict("SELECT * FROM core_person")
    raw = " ".join(str(value) for value in rows[0].values())
    assert resident_id(11) not in raw and "13812345678" not in raw
    assert rows[0]["resident_id_cipher"].startswith("v1.ktest.")
    assert created["resident_id"] == resident_id(11)[:6] + "********" + resident_id(11)[-4:]
    # Masked: the birth date is withheld too, since with the visible digits it rebuilds the number.
    assert created["masked"] and created["sex"] == "male" and created["birth_date"] is None


async def test_reader_sees_masked_numbers_and_no_audit_is_needed(client: Any) -> None:
    created = await create(client, person(11, phone="13812345678"))
    before = await AuditEntry.filter(action="person.read_sensitive").count()
    body = (await client.get(f"{PEOPLE}/{created['id']}", headers=bearer("yunxi-reader"))).json()
    assert body["masked"] and body["phone"] == "138****5678"
    assert resident_id(11) not in body["resident_id"]
    assert await AuditEntry.filter(action="person.read_sensitive").count() == before == 0


async def test_sensitive_read_is_unmasked_and_audited_with_its_purpose(client: Any) -> None:
    created = await create(client, person(11, phone="13812345678"))
    response = await client.get(
        f"{PEOPLE}/{created['id']}", params={"purpose": "低保复核"}, headers=bearer("yunxi-steward")
    )
    body = response.json()
    assert body["resident_id"] == resident_id(11) and body["phone"] == "13812345678" and not body["masked"]
    entry = await AuditEntry.get(action="person.read_sensitive")
    assert (entry.actor, entry.area_code, entry.target_id, entry.purpose) == (
        "yunxi-steward", SHANGPING_VILLAGE, str(created["id"]), "低保复核",
    )
    assert resident_id(11) not in str(entry.detail)
    assert (await verify_chain()).ok


async def test_sensitive_permission_for_another_township_stays_masked(client: Any) -> None:
    created = await create(client, person(11, village=NANYANG_VILLAGE))
    shimen = (await client.get(f"{PEOPLE}/{created['id']}", headers=bearer("shimen-steward"))).json()
    yunxi = await client.get(f"{PEOPLE}/{created['id']}", headers=bearer("yunxi-steward"))
    assert not shimen["masked"]
    assert yunxi.status_code == 404


async def test_a_failing_audit_write_fails_the_read_and_the_create(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    created = await create(client, person(11))

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("tulou.identity.people.record_audit", broken)
    read = await client.get(f"{PEOPLE}/{created['id']}", headers=bearer("yunxi-steward"))
    refused = await client.post(PEOPLE + "/", json=person(12), headers=ADMIN)
    assert read.status_code == 500 and resident_id(11) not in read.text
    assert refused.status_code == 500
    assert await Person.filter(name="林12").count() == 0


async def test_scope_hides_other_townships_people(client: Any) -> None:
    mine = await create(client, person(11))
    theirs = await create(client, person(12, village=NANYANG_VILLAGE))
    reader = bearer("yunxi-writer")
    read = await client.get(f"{PEOPLE}/{theirs['id']}", headers=reader)
    update = await client.patch(f"{PEOPLE}/{theirs['id']}", json={"name": "改名"}, headers=reader)
    lookup = await client.post(f"{PEOPLE}/lookup", json={"resident_id": resident_id(12)}, headers=reader)
    search = (await client.get(PEOPLE + "/", params={"name": "林"}, headers=reader)).json()
    move = await client.patch(f"{PEOPLE}/{mine['id']}", json={"home_area": NANYANG_VILLAGE}, headers=reader)
    create_there = await client.post(PEOPLE + "/", json=person(13, village=NANYANG_VILLAGE), headers=reader)
    assert [r.status_code for r in (read, update, lookup, move, create_there)] == [404] * 5
    assert [item["id"] for item in search["items"]] == [mine["id"]] and search["total"] == 1
    assert (await Person.get(id=theirs["id"])).name == "林12"


async def test_lookup_by_resident_id_uses_the_blind_index_and_is_audited(client: Any) -> None:
    created = await create(client, person(11))
    await create(client, person(12))
    spaced = resident_id(11)[:6] + " " + resident_id(11)[6:]
    found = await client.post(f"{PEOPLE}/lookup", json={"resident_id": spaced, "purpose": "来访登记"}, headers=bearer("yunxi-reader"))
    missing = await client.post(f"{PEOPLE}/lookup", json={"resident_id": resident_id(99)}, headers=bearer("yunxi-reader"))
    assert found.status_code == 200 and found.json()["id"] == created["id"] and found.json()["masked"]
    assert missing.status_code == 404
    entries = await AuditEntry.filter(action="person.lookup").order_by("id")
    assert [e.detail["found"] for e in entries] == [True, False]
    assert entries[0].purpose == "来访登记" and entries[0].target_id == str(created["id"])
    assert all(resident_id(11)[6:14] not in str(e.detail) for e in entries)


async def test_update_is_audited_with_field_names_only(client: Any) -> None:
    created = await create(client, person(11))
    response = await client.patch(
        f"{PEOPLE}/{created['id']}", json={"phone": "0597-1234567", "tags": ["elderly_alone"]}, headers=bearer("yunxi-writer")
    )
    assert response.status_code == 200 and response.json()["tags"] == ["elderly_alone"]
    entry = await AuditEntry.get(action="person.updated")
    assert entry.detail == {"fields": ["phone", "tags"]}
    assert entry.actor == "yunxi-writer"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({**person(11), "resident_id": resident_id(11)[:-1] + ("0" if resident_id(11)[-1] != "0" else "1")}, 422, "resident_id"),
        (person(11, phone="12345"), 422, "phone"),
        (person(11, village=YUNXI_TOWN), 422, "home_area"),
        (person(11, village="350899100299"), 422, "home_area"),
        (person(10), 409, "resident_id"),
    ],
    ids=["check-digit", "phone", "township-not-village", "unknown-village", "duplicate"],
)
async def test_bad_input_names_the_field_and_writes_nothing(client: Any, body: dict[str, Any], status: int, field: str) -> None:
    await create(client, person(10))
    response = await client.post(PEOPLE + "/", json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await Person.all().count() == 1


async def test_people_pages_are_clamped(client: Any) -> None:
    for serial in range(3):
        await create(client, person(serial))
    page = (await client.get(PEOPLE + "/", params={"limit": 100000}, headers=ADMIN)).json()
    second = (await client.get(PEOPLE + "/", params={"limit": 1, "offset": 1}, headers=ADMIN)).json()
    assert page["limit"] == 200 and page["total"] == 3
    assert len(second["items"]) == 1 and second["items"][0]["name"] == "林1"


async def test_organisations_are_listed_within_scope(client: Any) -> None:
    writer = bearer("yunxi-writer")
    bureau = (await client.post(ORGANISATIONS + "/", json={"name": "云溪镇政府", "kind": "township_government", "area": YUNXI_TOWN}, headers=writer)).json()
    committee = await client.post(
        ORGANISATIONS + "/",
        json={"name": "上坪村委会", "kind": "village_committee", "area": SHANGPING_VILLAGE, "parent": bureau["id"]}, headers=writer,
    )
    elsewhere = await client.post(ORGANISATIONS + "/", json={"name": "石门镇政府", "kind": "township_government", "area": SHIMEN_TOWN}, headers=writer)
    shimen = (await client.post(ORGANISATIONS + "/", json={"name": "石门镇政府", "kind": "township_government", "area": SHIMEN_TOWN}, headers=ADMIN)).json()
    bad_kind = await client.post(ORGANISATIONS + "/", json={"name": "x", "kind": "club", "area": YUNXI_TOWN}, headers=writer)
    foreign_parent = await client.post(
        ORGANISATIONS + "/", json={"name": "y", "kind": "other", "area": YUNXI_TOWN, "parent": shimen["id"]}, headers=writer
    )
    listed = (await client.get(ORGANISATIONS + "/", headers=bearer("yunxi-reader"))).json()
    hidden = await client.get(f"{ORGANISATIONS}/{shimen['id']}", headers=bearer("yunxi-reader"))
    assert committee.status_code == 201 and committee.json()["parent"] == bureau["id"]
    assert elsewhere.status_code == 404 and hidden.status_code == 404
    assert bad_kind.status_code == 400 and bad_kind.json()["errors"][0]["field"] == "kind"
    assert foreign_parent.status_code == 422 and foreign_parent.json()["errors"][0]["field"] == "parent"
    assert [o["name"] for o in listed["items"]] == ["云溪镇政府", "上坪村委会"] and listed["total"] == 2
    assert await AuditEntry.filter(action="organisation.created").count() == 3
