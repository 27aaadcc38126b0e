"""The change feed: in commit order, numbered without gaps, so a consumer following it ends with the source's rows."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import NANYANG_VILLAGE, SHANGPING_VILLAGE
from tests.exchange.conftest import PLOTS, County, plot

RECORDS = f"/api/v1/datasets/{PLOTS}/records/"
CHANGES = f"/api/v1/datasets/{PLOTS}/changes"
WRITERS = 12


async def source_rows(county: County) -> dict[str, dict[str, Any]]:
    rows, cursor = {}, None
    while True:
        page = (await county.client.get(RECORDS, params={"limit": 200, **({"cursor": cursor} if cursor else {})},
                                        headers=county.keeper)).json()
        rows.update({item["id"]: item["data"] for item in page["items"]})
        cursor = page["next"]
        if cursor is None:
            return rows


class Consumer:
    """A department's system syncing by the feed: applies each change to its own copy."""

    def __init__(self, county: County, headers: dict[str, str]) -> None:
        self.county, self.headers = county, headers
        self.cursor: str | None = None
        self.copy: dict[str, dict[str, Any]] = {}
        self.seqs: list[int] = []

    async def poll(self) -> bool:
        """One page; whether more changes were already waiting."""
        params = {"limit": 7, **({"after": self.cursor} if self.cursor else {})}
        page = await self.county.client.get(CHANGES, params=params, headers=self.headers)
        assert page.status_code == 200, page.text
        for change in page.json()["changes"]:
            self.seqs.append(change["seq"])
            if change["op"] == "delete":
                self.copy.pop(change["id"], None)
            else:
                self.copy[change["id"]] = change["data"]
        self.cursor = page.json()["next"]
        return page.json()["more"]

    async def follow(self, writing: asyncio.Event) -> None:
        while writing.is_set():
            await self.poll()
            await asyncio.sleep(0)
        while await self.poll():
            pass


async def writer(county: County, n: int) -> int:
    """Create, update twice, and delete one in three: returns how many writes it made."""
    key, area = f"plot-{n}", SHANGPING_VILLAGE if n % 2 else NANYANG_VILLAGE
    await county.write(key, area, plot(f"field {n}", area_mu=n))
    for crop in ("tea", "maize"):
        changed = await county.client.patch(f"{RECORDS}{key}", json={"data": {"crop": crop}}, headers=county.keeper)
        assert changed.status_code == 200, changed.text
    if n % 3 == 0:
        assert (await county.client.delete(f"{RECORDS}{key}", headers=county.keeper)).status_code == 204
        return 4
    return 3


async def test_a_consumer_following_the_feed_during_concurrent_writes_ends_with_the_source(county: County) -> None:
    consumer, writing = Consumer(county, county.keeper), asyncio.Event()
    writing.set()
    following = asyncio.create_task(consumer.follow(writing))
    writes = await asyncio.gather(*(writer(county, n) for n in range(WRITERS)))
    writing.clear()
    await following
    assert consumer.seqs == list(range(1, sum(writes) + 1))  # every change once, in order, no gaps
    assert consumer.copy == await source_rows(county)
    assert len(consumer.copy) == WRITERS - len(range(0, WRITERS, 3))


async def test_concurrent_writes_to_one_record_keep_every_version(county: County) -> None:
    """Unconditional writes to one record take turns: versions 2..N+1, each in the feed once (truly parallel on PostgreSQL)."""
    await county.write("shared", SHANGPING_VILLAGE, plot("shared"))
    results = await asyncio.gather(*(
        county.client.patch(f"{RECORDS}shared", json={"data": {"area_mu": n}}, headers=county.keeper) for n in range(10)
    ))
    assert sorted(int(r.headers["etag"].strip('"')) for r in results) == list(range(2, 12))
    feed = (await county.client.get(CHANGES, headers=county.keeper)).json()["changes"]
    assert [change["version"] for change in feed] == list(range(1, 12))
    final = (await county.client.get(f"{RECORDS}shared", headers=county.keeper)).json()
    assert final["data"]["area_mu"] == feed[-1]["data"]["area_mu"]


async def test_conditional_writes_racing_for_one_version_let_exactly_one_win(county: County) -> None:
    await county.write("shared", SHANGPING_VILLAGE, plot("shared"))
    results = await asyncio.gather(*(
        county.client.put(f"{RECORDS}shared", json={"data": plot("shared", area_mu=n)},
                          headers={**county.keeper, "If-Match": '"1"'})
        for n in range(6)
    ))
    assert sorted(r.status_code for r in results) == [200] + [412] * 5


async def test_the_cursor_is_checked_and_the_feed_is_guarded(county: County) -> None:
    bad = await county.client.get(CHANGES, params={"after": "-1"}, headers=county.keeper)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "after"
    empty = await county.client.get(CHANGES, params={"after": "5"}, headers=county.keeper)
    assert empty.json() == {"changes": [], "next": "5", "more": False}
    assert (await county.client.get(CHANGES)).status_code == 401
