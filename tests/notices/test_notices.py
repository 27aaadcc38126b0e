"""The notice board as residents, publishers and the scheduler use it: over HTTP, and the job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from litestar import Litestar
from litestar.connection import ASGIConnection

from tests.conftest import (
    AppClient,
    ADMIN,
    DEMO_COUNTY,
    NANYANG_VILLAGE,
    SHANGPING_VILLAGE,
    SHIMEN_TOWN,
    YUNXI_TOWN,
)
from tulou.api import Area, Invalid, Principal
from tulou.jobs.models import JobOutcome, JobRun
from tulou.jobs.runner import run_job
from tulou_notices import service
from tulou_notices.models import Notice, NoticeStatus

ZHULIN_VILLAGE = "350899100202"  # Yunxi town, beside Shangping
PUBLISH = "notices:publish"


def board(area: str) -> str:
    return f"/api/v1/notices/areas/{area}/notices"


def moment(**delta: float) -> str:
    """An ISO time ``delta`` away from now, in UTC."""
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def enable(client: AppClient, township: str) -> None:
    response = await client.put(f"/api/v1/areas/{township}/modules/notices", headers=ADMIN)
    assert response.status_code == 201, response.text


async def disable(client: AppClient, township: str) -> None:
    response = await client.delete(f"/api/v1/areas/{township}/modules/notices", headers=ADMIN)
    assert response.status_code == 200, response.text


async def publish(
    client: AppClient, area: str, title: str = "停水通知", **fields: Any
) -> dict[str, Any]:
    payload = {"title": title, "body": "周三上午九点至十二点停水。", **fields}
    response = await client.post(board(area), json=payload, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def titles_on(
    client: AppClient, area: str, query: str = "", headers: dict[str, str] | None = None
) -> list[str]:
    response = await client.get(board(area) + query, headers=headers)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    if field is not None:
        assert [error["field"] for error in problem["errors"]] == [field]
    return problem


def sign_in_as(app: Litestar, token: str, principal: Principal) -> dict[str, str]:
    """Add an authenticator that knows one extra caller; returns that caller's headers."""

    async def authenticate(connection: ASGIConnection) -> Principal | None:
        return principal if connection.headers.get("authorization") == f"Bearer {token}" else None

    app.state.platform.authenticators.append(authenticate)
    return {"Authorization": f"Bearer {token}"}


# -- the module gate ------------------------------------------------------------------


async def test_routes_answer_not_enabled_until_the_township_enables_the_module(
    client: AppClient,
) -> None:
    for response in (
        await client.get(board(YUNXI_TOWN)),
        await client.get(board(SHANGPING_VILLAGE) + "/1"),
        await client.post(board(YUNXI_TOWN), json={"title": "t", "body": "b"}, headers=ADMIN),
        await client.delete(board(YUNXI_TOWN) + "/1", headers=ADMIN),
    ):
        assert_problem(response, 404, field="area")
    problem = assert_problem(
        await client.get(board(SHANGPING_VILLAGE) + "?lang=en"), 404, field="area"
    )
    assert problem["detail"] == "Module not enabled for this area"


async def test_enabling_yunxi_opens_its_boards_and_no_others(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    notice = await publish(client, SHANGPING_VILLAGE)
    for area in (YUNXI_TOWN, SHANGPING_VILLAGE):
        assert (await client.get(board(area))).status_code == 200
    assert (await client.get(board(SHANGPING_VILLAGE) + f"/{notice['id']}")).status_code == 200
    for area in (SHIMEN_TOWN, NANYANG_VILLAGE):
        assert_problem(await client.get(board(area)), 404, field="area")
        response = await client.post(board(area), json={"title": "t", "body": "b"}, headers=ADMIN)
        assert_problem(response, 404, field="area")


async def test_disabling_hides_the_board_and_keeps_its_notices(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    notice = await publish(client, YUNXI_TOWN, title="秋收安排")
    await disable(client, YUNXI_TOWN)
    assert_problem(await client.get(board(YUNXI_TOWN)), 404, field="area")
    assert_problem(await client.get(board(YUNXI_TOWN) + f"/{notice['id']}"), 404, field="area")
    await enable(client, YUNXI_TOWN)
    assert await titles_on(client, YUNXI_TOWN) == ["秋收安排"]


# -- who may publish ----------------------------------------------------------------


async def test_publishing_needs_a_caller_with_the_publish_permission(
    client: AppClient,
) -> None:
    await enable(client, YUNXI_TOWN)
    villager = sign_in_as(
        client.app,
        "villager",
        Principal(id="villager", display_name="村民", permissions=frozenset()),
    )
    payload = {"title": "t", "body": "b"}
    assert_problem(await client.post(board(YUNXI_TOWN), json=payload), 401)
    assert_problem(await client.post(board(YUNXI_TOWN), json=payload, headers=villager), 403)
    notice = await publish(client, YUNXI_TOWN)
    assert notice["published_by"] == client.admin_actor
    assert_problem(await client.delete(board(YUNXI_TOWN) + f"/{notice['id']}"), 401)
    assert_problem(
        await client.delete(board(YUNXI_TOWN) + f"/{notice['id']}", headers=villager), 403
    )
    assert await titles_on(client, YUNXI_TOWN) == ["停水通知"]


async def test_a_village_publisher_manages_only_its_own_board(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    clerk = sign_in_as(
        client.app,
        "shangping-clerk",
        Principal(
            id="shangping-clerk",
            display_name="上坪村文书",
            permissions=frozenset({PUBLISH}),
            area_roots=(SHANGPING_VILLAGE,),
        ),
    )
    township_notice = await publish(client, YUNXI_TOWN, title="镇通知")
    response = await client.post(
        board(SHANGPING_VILLAGE), json={"title": "村通知", "body": "b"}, headers=clerk
    )
    assert response.status_code == 201, response.text
    assert response.json()["published_by"] == "shangping-clerk"
    assert_problem(
        await client.post(board(YUNXI_TOWN), json={"title": "t", "body": "b"}, headers=clerk), 404
    )
    response = await client.delete(
        board(SHANGPING_VILLAGE) + f"/{township_notice['id']}", headers=clerk
    )
    assert_problem(response, 404, field="notice_id")
    assert sorted(await titles_on(client, SHANGPING_VILLAGE)) == ["村通知", "镇通知"]


# -- what a board shows ---------------------------------------------------------------


async def test_a_board_shows_its_own_its_townships_and_its_villages_notices(
    client: AppClient,
) -> None:
    await enable(client, YUNXI_TOWN)
    await publish(client, YUNXI_TOWN, title="全镇通知")
    shangping = await publish(client, SHANGPING_VILLAGE, title="上坪通知")
    await publish(client, ZHULIN_VILLAGE, title="竹林通知")
    assert sorted(await titles_on(client, SHANGPING_VILLAGE)) == ["上坪通知", "全镇通知"]
    assert sorted(await titles_on(client, ZHULIN_VILLAGE)) == ["全镇通知", "竹林通知"]
    assert sorted(await titles_on(client, YUNXI_TOWN)) == ["上坪通知", "全镇通知", "竹林通知"]
    assert (await client.get(board(YUNXI_TOWN) + f"/{shangping['id']}")).json()[
        "title"
    ] == "上坪通知"
    assert_problem(
        await client.get(board(ZHULIN_VILLAGE) + f"/{shangping['id']}"), 404, field="notice_id"
    )


async def test_only_current_notices_are_public(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    await publish(client, YUNXI_TOWN, title="长期有效")
    await publish(client, YUNXI_TOWN, title="本周有效", valid_until=moment(days=7))
    await publish(client, YUNXI_TOWN, title="尚未生效", valid_from=moment(hours=1))
    await publish(
        client,
        YUNXI_TOWN,
        title="已经过期",
        valid_from=moment(days=-2),
        valid_until=moment(days=-1),
    )
    withdrawn = await publish(client, YUNXI_TOWN, title="已撤回")
    assert (
        await client.delete(board(YUNXI_TOWN) + f"/{withdrawn['id']}", headers=ADMIN)
    ).status_code == 200
    assert sorted(await titles_on(client, SHANGPING_VILLAGE)) == ["本周有效", "长期有效"]
    everything = await titles_on(client, SHANGPING_VILLAGE, "?include=all", headers=ADMIN)
    assert sorted(everything) == ["尚未生效", "已撤回", "已经过期", "本周有效", "长期有效"]
    assert_problem(
        await client.get(board(YUNXI_TOWN) + f"/{withdrawn['id']}"), 404, field="notice_id"
    )
    response = await client.get(
        board(YUNXI_TOWN) + f"/{withdrawn['id']}?include=all", headers=ADMIN
    )
    assert response.json()["status"] == "withdrawn"


async def test_times_with_any_offset_compare_as_instants(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    beijing = timezone(timedelta(hours=8))
    started = (datetime.now(UTC) - timedelta(minutes=30)).astimezone(beijing).isoformat()
    ends = (datetime.now(UTC) + timedelta(minutes=30)).astimezone(beijing).isoformat()
    notice = await publish(
        client, YUNXI_TOWN, title="北京时间", valid_from=started, valid_until=ends
    )
    assert await titles_on(client, YUNXI_TOWN) == ["北京时间"]
    fetched = (await client.get(board(YUNXI_TOWN) + f"/{notice['id']}")).json()
    assert fetched == notice  # the same notice reads the same, in UTC, wherever it is read
    assert fetched["valid_from"].endswith("Z")
    assert datetime.fromisoformat(fetched["valid_from"]) == datetime.fromisoformat(started)


async def test_past_and_withdrawn_notices_are_for_publishers_only(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    villager = sign_in_as(
        client.app,
        "villager",
        Principal(id="villager", display_name="村民", permissions=frozenset()),
    )
    assert_problem(await client.get(board(YUNXI_TOWN) + "?include=all"), 401)
    assert_problem(await client.get(board(YUNXI_TOWN) + "?include=all", headers=villager), 403)
    assert_problem(await client.get(board(YUNXI_TOWN) + "/1?include=all"), 401)
    assert_problem(
        await client.get(board(YUNXI_TOWN) + "?include=everything"), 400, field="include"
    )


async def test_boards_are_paged_newest_first(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    for days_ago, title in ((3, "三天前"), (1, "一天前"), (2, "两天前")):
        await publish(client, YUNXI_TOWN, title=title, valid_from=moment(days=-days_ago))
    first = (await client.get(board(YUNXI_TOWN) + "?limit=2")).json()
    assert [item["title"] for item in first["items"]] == ["一天前", "两天前"]
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    second = (await client.get(board(YUNXI_TOWN) + "?limit=2&offset=2")).json()
    assert [item["title"] for item in second["items"]] == ["三天前"]
    assert (await client.get(board(YUNXI_TOWN) + "?limit=5000")).json()["limit"] == 100
    assert_problem(await client.get(board(YUNXI_TOWN) + "?limit=0"), 400, field="limit")


# -- publishing and withdrawing -------------------------------------------------------


async def test_a_published_notice_comes_back_whole(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    until = moment(days=30)
    notice = await publish(
        client, SHANGPING_VILLAGE, title="  医保缴费  ", body="请于月底前缴纳。", valid_until=until
    )
    assert notice["title"] == "医保缴费"
    assert (notice["area"], notice["body"], notice["status"]) == (
        SHANGPING_VILLAGE,
        "请于月底前缴纳。",
        "published",
    )
    assert datetime.fromisoformat(notice["valid_until"]) == datetime.fromisoformat(until)
    assert abs(datetime.fromisoformat(notice["valid_from"]) - datetime.now(UTC)) < timedelta(
        minutes=1
    )
    fetched = (await client.get(board(SHANGPING_VILLAGE) + f"/{notice['id']}")).json()
    assert fetched == notice


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": "长" * 101}, "title"),
        ({"body": ""}, "body"),
        (
            {"valid_from": "2030-01-02T00:00:00+00:00", "valid_until": "2030-01-01T00:00:00+00:00"},
            "valid_until",
        ),
        (
            {"valid_from": "2030-01-01T00:00:00+00:00", "valid_until": "2030-01-01T00:00:00+00:00"},
            "valid_until",
        ),
        ({"valid_from": "2030-01-01T08:00:00"}, "valid_from"),
    ],
)
async def test_a_bad_notice_is_refused_naming_the_field(
    client: AppClient, fields: dict[str, Any], field: str
) -> None:
    await enable(client, YUNXI_TOWN)
    payload = {
        key: value
        for key, value in {"title": "通知", "body": "正文", **fields}.items()
        if value is not None
    }
    assert_problem(
        await client.post(board(YUNXI_TOWN), json=payload, headers=ADMIN), 422, field=field
    )
    assert await titles_on(client, YUNXI_TOWN, "?include=all", headers=ADMIN) == []


async def test_a_malformed_body_is_a_problem_naming_the_field(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    response = await client.post(board(YUNXI_TOWN), json={"title": 7, "body": "b"}, headers=ADMIN)
    assert_problem(response, 400, field="title")


async def test_body_length_limit_defaults_to_5000_characters(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    await publish(client, YUNXI_TOWN, body="一" * 5000)
    response = await client.post(
        board(YUNXI_TOWN), json={"title": "t", "body": "一" * 5001}, headers=ADMIN
    )
    assert_problem(response, 422, field="body")


async def test_body_length_limit_follows_the_setting(serve: Callable[..., Any]) -> None:
    async with serve(notices={"max_body_length": 10}) as limited:
        await enable(limited, YUNXI_TOWN)
        response = await limited.post(
            board(YUNXI_TOWN), json={"title": "t", "body": "一" * 11}, headers=ADMIN
        )
        assert_problem(response, 422, field="body")
        await publish(limited, YUNXI_TOWN, body="一" * 10)


async def test_body_length_limit_is_read_from_the_environment(
    serve: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TULOU_NOTICES__MAX_BODY_LENGTH", "10")
    async with serve() as limited:
        await enable(limited, YUNXI_TOWN)
        response = await limited.post(
            board(YUNXI_TOWN), json={"title": "t", "body": "一" * 11}, headers=ADMIN
        )
        assert_problem(response, 422, field="body")


async def test_problem_details_speak_the_callers_language(serve: Callable[..., Any]) -> None:
    async with serve(notices={"max_body_length": 10}) as limited:
        await enable(limited, YUNXI_TOWN)
        payload = {"title": "t", "body": "x" * 11}
        chinese = await limited.post(board(YUNXI_TOWN), json=payload, headers=ADMIN)
        english = await limited.post(board(YUNXI_TOWN) + "?lang=en", json=payload, headers=ADMIN)
        assert assert_problem(chinese, 422, field="body")["detail"] == "正文最多 10 个字"
        assert (
            assert_problem(english, 422, field="body")["detail"]
            == "The body must be at most 10 characters"
        )


async def test_withdrawing_keeps_the_notice_and_can_be_repeated(client: AppClient) -> None:
    await enable(client, YUNXI_TOWN)
    notice = await publish(client, SHANGPING_VILLAGE)
    for _ in range(2):
        response = await client.delete(board(YUNXI_TOWN) + f"/{notice['id']}", headers=ADMIN)
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["status"]) == (notice["id"], "withdrawn")
    assert await titles_on(client, SHANGPING_VILLAGE) == []
    assert await titles_on(client, SHANGPING_VILLAGE, "?include=all", headers=ADMIN) == [
        notice["title"]
    ]
    assert_problem(
        await client.delete(board(YUNXI_TOWN) + "/999999", headers=ADMIN), 404, field="notice_id"
    )


async def test_notices_go_to_villages_and_townships_only(client: AppClient) -> None:
    async def publish_to_county() -> None:
        county = await Area.get(code=DEMO_COUNTY)
        draft = service.NoticeDraft(title="t", body="b")
        await service.publish_notice(county, draft, publisher="x", max_body_length=10)

    with pytest.raises(Invalid) as refused:
        await publish_to_county()
    assert refused.value.field == "area"
    response = await client.post(
        board(DEMO_COUNTY), json={"title": "t", "body": "b"}, headers=ADMIN
    )
    assert_problem(response, 404, field="area")


# -- the archive job ------------------------------------------------------------------


async def notice_states() -> dict[int, tuple[NoticeStatus, datetime]]:
    return {notice.id: (notice.status, notice.updated_at) for notice in await Notice.all()}


async def test_archive_job_archives_ended_notices_where_the_module_is_on(
    client: AppClient,
) -> None:
    platform = client.app.state.platform
    (job,) = [job for job in platform.registry.jobs["notices"] if job.id == "archive_expired"]
    await enable(client, YUNXI_TOWN)
    ended = {"valid_from": moment(days=-2), "valid_until": moment(days=-1)}
    town_ended = await publish(client, YUNXI_TOWN, title="镇过期", **ended)
    village_ended = await publish(client, SHANGPING_VILLAGE, title="村过期", **ended)
    current = await publish(client, SHANGPING_VILLAGE, title="有效", valid_until=moment(days=1))
    withdrawn = await publish(client, YUNXI_TOWN, title="撤回", **ended)
    await client.delete(board(YUNXI_TOWN) + f"/{withdrawn['id']}", headers=ADMIN)

    async def publish_in_shimen() -> Notice:  # its township has not enabled the module
        draft = service.NoticeDraft(
            title="石门过期",
            body="b",
            valid_from=datetime.now(UTC) - timedelta(days=2),
            valid_until=datetime.now(UTC) - timedelta(days=1),
        )
        return await service.publish_notice(
            await Area.get(code=NANYANG_VILLAGE), draft, publisher="x", max_body_length=100
        )

    elsewhere = await publish_in_shimen()

    runs = await run_job(platform, "notices", job)

    assert [(run.area_code, run.outcome) for run in runs] == [(YUNXI_TOWN, JobOutcome.SUCCEEDED)]
    after_first = await notice_states()
    assert {id: status for id, (status, _) in after_first.items()} == {
        town_ended["id"]: NoticeStatus.ARCHIVED,
        village_ended["id"]: NoticeStatus.ARCHIVED,
        current["id"]: NoticeStatus.PUBLISHED,
        withdrawn["id"]: NoticeStatus.WITHDRAWN,
        elsewhere.id: NoticeStatus.PUBLISHED,
    }
    await run_job(platform, "notices", job)
    assert await notice_states() == after_first
    recorded = await JobRun.filter(job_id="notices.archive_expired").values_list("area_code", "outcome")
    assert recorded == [(YUNXI_TOWN, JobOutcome.SUCCEEDED)] * 2


# -- how the core lists the plugin ----------------------------------------------------


async def test_the_plugin_listing_is_translated(client: AppClient) -> None:
    listings = {}
    for lang in ("zh_CN", "en"):
        plugins = (await client.get(f"/api/v1/plugins?lang={lang}")).json()
        (listings[lang],) = [plugin for plugin in plugins if plugin["name"] == "notices"]
    assert listings["zh_CN"]["status"] == "active"
    assert (listings["zh_CN"]["title"], listings["en"]["title"]) == ("村务公开栏", "Notice board")
    assert listings["zh_CN"]["permissions"] == [{"name": PUBLISH, "title": "发布和撤回公告"}]
    assert listings["en"]["console_pages"] == [
        {"path": "/console/notices", "title": "Notice board"}
    ]
    assert listings["en"]["jobs"] == ["notices.archive_expired"]
