"""Role changes under concurrent requests never widen a scope, and one grant is made once.

On PostgreSQL the requests run truly concurrently, each on a connection of its own;
on SQLite they interleave on one connection. Either way, a request that starts after
a binding's removal has committed must not see what the binding granted, and none
sees beyond what the old and new bindings grant together.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import (
    ADMIN, DEMO_COUNTY, MEILIN_TOWNSHIP, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN, YUNXI_TOWN,
    cheap_passwords,
)
from tests.core.test_accounts import account, bearer, tokens
from tests.core.test_people import person
from tulou.areas.codes import is_within
from tulou.audit.models import AuditEntry
from tulou.identity.accounts_models import RoleBinding

MEILIN_VILLAGE = "350899200201"
BINDINGS = "/api/v1/role-bindings/"
READERS = 6  # concurrent readers
ROUNDS_AFTER_COMMIT = 3  # rounds each reader makes once the change has committed
MAX_ROUNDS = 200  # a bound, should the change never finish


@pytest.fixture
async def client(serve: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    cheap_passwords(monkeypatch)
    async with serve() as test_client:
        yield test_client


@dataclass(frozen=True)
class Read:
    area: str  # the township of the person read
    after_commit: bool  # the request started after the change committed
    status: int


async def residents(client: Any) -> dict[str, int]:
    """One resident in each of three townships, by township."""
    found = {}
    for serial, (township, village) in enumerate(
        ((YUNXI_TOWN, SHANGPING_VILLAGE), (SHIMEN_TOWN, NANYANG_VILLAGE), (MEILIN_TOWNSHIP, MEILIN_VILLAGE)), start=41,
    ):
        created = await client.post("/api/v1/people/", json=person(serial, village=village), headers=ADMIN)
        assert created.status_code == 201, created.text
        found[township] = created.json()["id"]
    return found


async def read_until_settled(
    client: Any, token: str, people: dict[str, int], started: asyncio.Barrier, committed: asyncio.Event,
    log: list[Read],
) -> None:
    """Read every resident, round after round, until a few rounds have started after the commit."""
    rounds_after = 0
    for round_ in range(MAX_ROUNDS):
        for township, person_id in people.items():
            after = committed.is_set()
            response = await client.get(f"/api/v1/people/{person_id}", headers=bearer(token))
            log.append(Read(township, after, response.status_code))
        if round_ == 0:
            await started.wait()
        rounds_after += committed.is_set()
        if rounds_after > ROUNDS_AFTER_COMMIT:
            return


async def move_binding(
    client: Any, account_id: int, old: int, new_area: str, started: asyncio.Barrier, committed: asyncio.Event,
) -> None:
    """Once every reader has read once: grant the role in ``new_area``, then remove the ``old`` binding."""
    await started.wait()
    grant = {"account": account_id, "role": "township_staff", "area": new_area}
    granted = await client.post(BINDINGS, json=grant, headers=ADMIN)
    assert granted.status_code == 201, granted.text
    removed = await client.delete(f"{BINDINGS}{old}", headers=ADMIN)
    assert removed.status_code == 204, removed.text
    committed.set()


def within(township: str, areas: tuple[str, ...]) -> bool:
    return any(is_within(township, area) for area in areas)


def beyond_grants(log: list[Read], old_area: str, new_area: str) -> list[Read]:
    """Reads that saw a resident outside what the account held when they started:
    the old and new grants together before the change committed, the new one after."""
    return [
        read for read in log
        if read.status == 200 and not within(read.area, (new_area,) if read.after_commit else (old_area, new_area))
    ]


@pytest.mark.parametrize(("old_area", "new_area"), [
    pytest.param(DEMO_COUNTY, YUNXI_TOWN, id="county narrowed to a township"),
    pytest.param(MEILIN_TOWNSHIP, YUNXI_TOWN, id="moved to another township"),
])
async def test_a_binding_change_never_widens_what_requests_see(client: Any, old_area: str, new_area: str) -> None:
    people = await residents(client)
    roamer = await account(client, "roamer", "township_staff", area=old_area)
    old = (await RoleBinding.get(account_id=roamer)).id
    token = (await tokens(client, "roamer"))["access_token"]
    started, committed, log = asyncio.Barrier(READERS + 1), asyncio.Event(), []
    await asyncio.gather(
        move_binding(client, roamer, old, new_area, started, committed),
        *(read_until_settled(client, token, people, started, committed, log) for _ in range(READERS)),
    )
    assert committed.is_set()
    assert {read.status for read in log} <= {200, 401, 404}
    assert beyond_grants(log, old_area, new_area) == []
    overlapped = [read for read in log if read.status == 200 and not within(read.area, (new_area,))]
    assert overlapped, "no read overlapped the old grant"
    assert any(read.after_commit for read in log)
    fresh = bearer((await tokens(client, "roamer"))["access_token"])
    now = {town: (await client.get(f"/api/v1/people/{pid}", headers=fresh)).status_code for town, pid in people.items()}
    assert now == {town: 200 if within(town, (new_area,)) else 404 for town in people}


async def test_concurrent_grants_of_one_role_make_one_binding(client: Any) -> None:
    lin = await account(client, "lin")
    grant = {"account": lin, "role": "township_staff", "area": YUNXI_TOWN}
    responses = await asyncio.gather(*(client.post(BINDINGS, json=grant, headers=ADMIN) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [r.text for r in responses]
    assert {r.json()["errors"][0]["field"] for r in responses if r.status_code == 409} == {"role"}
    assert await RoleBinding.filter(account_id=lin).count() == 1
    assert await AuditEntry.filter(action="role.bound", target_id=str(lin)).count() == 1


async def test_concurrent_removals_of_one_binding_remove_it_once(client: Any) -> None:
    lin = await account(client, "lin", "township_staff")
    binding = (await RoleBinding.get(account_id=lin)).id
    responses = await asyncio.gather(*(client.delete(f"{BINDINGS}{binding}", headers=ADMIN) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [204] + [404] * 7, [r.text for r in responses]
    assert await AuditEntry.filter(action="role.unbound", target_id=str(lin)).count() == 1
