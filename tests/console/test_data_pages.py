"""The data pages: a township's staff see the catalogue, requests, agreements and subscriptions of their township only,
and decide on requests, revoke agreements and send dead deliveries again through the API's own services.
"""

from __future__ import annotations

import re
from collections.abc import Callable
import pytest

from tests.conftest import ADMIN, DEMO_COUNTY, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.console.conftest import Browser, staff
from tests.console.sharing_data import DATASET, PURPOSE, ZHULIN_VILLAGE, YunxiSharing, yunxi_sharing
from tests.core.test_accounts import PASSWORD
from tests.exchange.conftest import PLOTS_SCHEMA, bearer, organisation, plot
from tulou.audit.models import AuditEntry
from tulou.exchange.models import Agreement, AgreementStatus, Delivery, DeliveryStatus

COOPERATIVE = "竹林茶叶合作社"
GOVERNMENT = "云溪镇人民政府"
SUBSCRIPTION_URL = "https://hooks.example.org/plots"
MEILIN_VILLAGE = "350899200201"
#: A catalogue row: the dataset's link, then its last cell, the records counted.
CATALOGUE_ROW = re.compile(r'<tr>\s*<td><a href="/console/datasets/([^"]+)">.*?<td>([^<]*)</td>\s*</tr>', re.S)


async def signed_in(open_browser: Callable[[], Browser], username: str, english: bool = True) -> Browser:
    """A browser signed in as ``username``, switched to English: the pages' own words, whatever the catalogues hold."""
    browser = open_browser()
    assert (await browser.sign_in(username)).status_code == 303
    if english:
        assert (await browser.submit("/console/language", {"lang": "en"})).status_code == 303
    return browser


@pytest.fixture
async def sharing(console: AppClient) -> YunxiSharing:
    lin = await staff(console, "lin", "township_admin")
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    await staff(console, "wang", "township_staff")
    return await yunxi_sharing(console, keepers=[lin])


@pytest.fixture
async def lin(sharing: YunxiSharing, open_browser: Callable[[], Browser]) -> Browser:
    return await signed_in(open_browser, "lin")


@pytest.fixture
async def mei(sharing: YunxiSharing, open_browser: Callable[[], Browser]) -> Browser:
    return await signed_in(open_browser, "mei")


def request_page(sharing: YunxiSharing) -> str:
    return f"/console/sharing/{sharing.agreement}"


def subscription_page(sharing: YunxiSharing) -> str:
    return f"/console/subscriptions/{DATASET}/{sharing.subscription}"


async def api_catalogue(console: AppClient, username: str) -> set[str]:
    token = await console.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    listed = await console.get("/api/v1/datasets/", headers=bearer(token.json()["access_token"]))
    assert listed.status_code == 200, listed.text
    return {dataset["id"] for dataset in listed.json()}


def console_catalogue(page: str) -> dict[str, str]:
    """Each dataset the catalogue page lists, with the records it counts."""
    return dict(CATALOGUE_ROW.findall(page))


async def test_the_catalogue_lists_what_the_api_lists(console: AppClient, lin: Browser, mei: Browser) -> None:
    page = (await lin.open("/console/datasets")).text
    assert "Township plots" in page and GOVERNMENT in page
    assert console_catalogue(page)[DATASET] == "2"  # both records lie in Yunxi
    assert set(console_catalogue(page)) == await api_catalogue(console, "lin")
    elsewhere = (await mei.open("/console/datasets")).text
    assert set(console_catalogue(elsewhere)) == await api_catalogue(console, "mei")
    assert DATASET not in elsewhere and GOVERNMENT not in elsewhere and "云溪镇" not in elsewhere
    assert (await mei.open(f"/console/datasets/{DATASET}")).status_code == 404


async def test_a_county_wide_dataset_counts_each_township_its_own_records(
    console: AppClient, lin: Browser, mei: Browser,
) -> None:
    bureau = await organisation(console, "县水利局", "department", DEMO_COUNTY)
    declared = await console.post("/api/v1/datasets/", headers=ADMIN, json={
        "id": "county.wells", "title": {"zh_CN": "水井", "en": "Wells"}, "classification": "public",
        "schema": PLOTS_SCHEMA, "owner": bureau, "manager": bureau, "area": DEMO_COUNTY,
    })
    assert declared.status_code == 201, declared.text
    for key, village in (("w-1", SHANGPING_VILLAGE), ("w-2", ZHULIN_VILLAGE), ("w-3", MEILIN_VILLAGE)):
        written = await console.post("/api/v1/datasets/county.wells/records/", headers=ADMIN,
                                     json={"id": key, "area": village, "data": plot(key)})
        assert written.status_code == 201, written.text
    assert console_catalogue((await lin.open("/console/datasets")).text)["county.wells"] == "2"
    assert console_catalogue((await mei.open("/console/datasets")).text)["county.wells"] == "1"
    changes = (await mei.open("/console/datasets/county.wells")).text
    assert "<code>w-3</code>" in changes and "<code>w-1</code>" not in changes and "<code>w-2</code>" not in changes


async def test_a_dataset_page_shows_schema_keepers_sharing_and_changes(lin: Browser, sharing: YunxiSharing) -> None:
    page = (await lin.open(f"/console/datasets/{DATASET}")).text
    for shown in ("<code>area_mu</code>", "<code>household</code>", "number", GOVERNMENT, "Staff: lin", COOPERATIVE,
                  "Waiting for a decision", "<code>sp-1</code>", "<code>zl-1</code>", "Published", "1.0"):
        assert shown in page, shown


async def test_a_grantee_sees_no_staff_and_only_what_it_may_read(
    console: AppClient, open_browser: Callable[[], Browser], sharing: YunxiSharing,
) -> None:
    clerk = await signed_in(open_browser, "zhulin_clerk")
    page = (await clerk.open(f"/console/datasets/{DATASET}")).text
    assert GOVERNMENT in page and "Staff:" not in page and "<code>sp-1</code>" not in page
    assert "You may not read this dataset" in page
    assert (await clerk.open("/console/sharing")).status_code == 403  # no agreement:decide
    agreements = (await clerk.open("/console/agreements")).text
    assert f'id="agreement-{sharing.agreement}"' in agreements and "/revoke" not in agreements


async def test_another_township_never_sees_the_request_nor_decides_it(mei: Browser, sharing: YunxiSharing) -> None:
    listed = (await mei.open("/console/sharing")).text
    assert COOPERATIVE not in listed and PURPOSE not in listed and "No request is waiting" in listed
    assert COOPERATIVE not in (await mei.open("/console/agreements")).text
    assert (await mei.open(request_page(sharing))).status_code == 404
    for action in ("approve", "reject"):
        refused = await mei.submit(f"{request_page(sharing)}/{action}", {"fields": "crop", "reason": "不行"})
        assert refused.status_code == 404 and COOPERATIVE not in refused.text
    assert (await mei.submit(f"/console/agreements/{sharing.agreement}/revoke")).status_code == 404
    assert (await Agreement.get(id=sharing.agreement)).status is AgreementStatus.REQUESTED


async def test_approving_narrower_than_asked_grants_exactly_that_and_is_audited(
    console: AppClient, lin: Browser, sharing: YunxiSharing, open_browser: Callable[[], Browser],
) -> None:
    listed = (await lin.open("/console/sharing")).text
    assert COOPERATIVE in listed and PURPOSE in listed and f'href="{request_page(sharing)}"' in listed
    form = (await lin.open(request_page(sharing))).text
    assert 'value="household" checked' in form and f'value="{ZHULIN_VILLAGE}"' in form  # a part of the township
    approved = await lin.submit(f"{request_page(sharing)}/approve",
                                {"fields": ["crop", "area_mu"], "areas": [ZHULIN_VILLAGE], "note": "只限竹林村"})
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/console/sharing?done=approved&agreement={sharing.agreement}"
    assert f"Request {sharing.agreement} is approved" in (await lin.open(approved.headers["location"])).text
    agreement = await Agreement.get(id=sharing.agreement)
    assert agreement.status is AgreementStatus.APPROVED and agreement.decision_note == "只限竹林村"
    assert agreement.fields_granted == ["area_mu", "crop"] and agreement.areas_granted == [ZHULIN_VILLAGE]
    [entry] = await AuditEntry.filter(action="agreement.approved")
    assert entry.actor == agreement.decided_by and entry.actor.startswith("account:") and entry.purpose == PURPOSE
    assert entry.detail["fields_granted"] == ["area_mu", "crop"] and entry.detail["areas_granted"] == [ZHULIN_VILLAGE]
    token = await console.post("/api/v1/auth/token", json={"username": "zhulin_clerk", "password": PASSWORD})
    records = await console.get(f"/api/v1/datasets/{DATASET}/records/", headers=bearer(token.json()["access_token"]))
    assert [(item["id"], item["data"]) for item in records.json()["items"]] == [("zl-1", {"crop": "tea", "area_mu": 2.5})]
    await AuditEntry.filter(action="exchange.read").delete()
    clerk = await signed_in(open_browser, "zhulin_clerk")
    page = (await clerk.open(f"/console/datasets/{DATASET}")).text
    assert "<code>zl-1</code>" in page and "<code>sp-1</code>" not in page
    [read] = await AuditEntry.filter(action="exchange.read")  # shown under the agreement: audited as the API's reads
    assert read.purpose == PURPOSE and read.detail["path"] == f"/console/datasets/{DATASET}"


async def test_the_decision_forms_report_errors_next_to_their_fields(lin: Browser, sharing: YunxiSharing) -> None:
    await lin.open(request_page(sharing))
    no_fields = await lin.submit(f"{request_page(sharing)}/approve", {"areas": YUNXI_TOWN})
    assert no_fields.status_code == 422 and 'id="fields-error"' in no_fields.text
    assert "Grant some of the requested fields" in no_fields.text
    wider = await lin.submit(f"{request_page(sharing)}/approve", {"fields": "crop", "areas": MEILIN_TOWNSHIP})
    assert wider.status_code == 422 and 'id="areas-error"' in wider.text and 'value="crop" checked' in wider.text
    long_note = await lin.submit(f"{request_page(sharing)}/approve", {"fields": "crop", "areas": YUNXI_TOWN, "note": "长" * 1001})
    assert long_note.status_code == 422 and 'id="note-error"' in long_note.text
    no_reason = await lin.submit(f"{request_page(sharing)}/reject", {"reason": "  "})
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.text and 'aria-invalid="true"' in no_reason.text
    assert (await Agreement.get(id=sharing.agreement)).status is AgreementStatus.REQUESTED
    assert not await AuditEntry.filter(action__in=["agreement.approved", "agreement.rejected"]).exists()


async def test_rejecting_keeps_the_reason_and_a_decided_request_cannot_be_decided_again(
    lin: Browser, sharing: YunxiSharing,
) -> None:
    await lin.open(request_page(sharing))
    rejected = await lin.submit(f"{request_page(sharing)}/reject", {"reason": "合作社不在本镇登记"})
    assert rejected.status_code == 303 and "done=rejected" in rejected.headers["location"]
    agreement = await Agreement.get(id=sharing.agreement)
    assert agreement.status is AgreementStatus.REJECTED and agreement.decision_note == "合作社不在本镇登记"
    assert await AuditEntry.filter(action="agreement.rejected", target_id=str(sharing.agreement)).count() == 1
    again = await lin.submit(f"{request_page(sharing)}/approve", {"fields": "crop", "areas": YUNXI_TOWN})
    assert again.status_code == 409 and "The agreement is rejected" in again.text
    assert COOPERATIVE not in (await lin.open("/console/sharing")).text


async def test_revoking_asks_first_then_ends_the_agreement(console: AppClient, lin: Browser, sharing: YunxiSharing) -> None:
    await lin.open(request_page(sharing))
    assert (await lin.submit(f"{request_page(sharing)}/approve", {"fields": "crop", "areas": YUNXI_TOWN})).status_code == 303
    listed = (await lin.open("/console/agreements")).text
    revoke = f"/console/agreements/{sharing.agreement}/revoke"
    assert f'href="{revoke}"' in listed and "Approved" in listed
    question = (await lin.open(revoke)).text
    assert COOPERATIVE in question and "Yes, revoke it" in question
    assert (await Agreement.get(id=sharing.agreement)).status is AgreementStatus.APPROVED  # asking changes nothing
    revoked = await lin.submit(revoke, {"reason": "采茶季已结束"})
    assert revoked.status_code == 303 and revoked.headers["location"].endswith(f"done=revoked&agreement={sharing.agreement}")
    agreement = await Agreement.get(id=sharing.agreement)
    assert agreement.status is AgreementStatus.REVOKED and agreement.revoked_by and agreement.decision_note == "采茶季已结束"
    assert await AuditEntry.filter(action="agreement.revoked", target_id=str(sharing.agreement)).count() == 1
    again = await lin.submit(revoke)
    assert again.status_code == 409 and "The agreement is revoked" in again.text


async def test_a_dead_delivery_is_sent_again_as_through_the_api(lin: Browser, mei: Browser, sharing: YunxiSharing) -> None:
    listed = (await lin.open("/console/subscriptions")).text
    assert SUBSCRIPTION_URL in listed and "Failed for good: 1" in listed
    page = (await lin.open(subscription_page(sharing))).text
    retry = f"{subscription_page(sharing)}/deliveries/{sharing.delivery}/retry"
    assert f'action="{retry}"' in page and "Internal Server Error" in page
    retried = await lin.submit(retry)
    assert retried.status_code == 303 and retried.headers["location"].endswith(f"?retried={sharing.delivery}")
    delivery = await Delivery.get(id=sharing.delivery)
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 0
    [entry] = await AuditEntry.filter(action="subscription.delivery_retried")
    assert entry.detail["delivery"] == sharing.delivery and entry.target_id == str(sharing.subscription)
    shown = (await lin.open(retried.headers["location"])).text
    assert "Waiting" in shown and f'action="{retry}"' not in shown
    again = await lin.submit(retry)
    assert again.status_code == 409 and "Only a dead delivery can be retried" in again.text


async def test_another_township_sees_no_subscription_nor_delivery(mei: Browser, sharing: YunxiSharing) -> None:
    assert SUBSCRIPTION_URL not in (await mei.open("/console/subscriptions")).text
    assert (await mei.open(subscription_page(sharing))).status_code == 404
    refused = await mei.submit(f"{subscription_page(sharing)}/deliveries/{sharing.delivery}/retry")
    assert refused.status_code == 404
    assert (await Delivery.get(id=sharing.delivery)).status is DeliveryStatus.DEAD


async def test_the_menu_shows_the_data_pages_by_permission(open_browser: Callable[[], Browser], sharing: YunxiSharing) -> None:
    admin = (await (await signed_in(open_browser, "lin")).open("/console/")).text
    for path in ("/console/datasets", "/console/sharing", "/console/agreements", "/console/subscriptions"):
        assert f'href="{path}"' in admin, path
    clerk = (await (await signed_in(open_browser, "wang")).open("/console/")).text
    assert 'href="/console/datasets"' in clerk and 'href="/console/sharing"' not in clerk
    assert 'href="/console/subscriptions"' not in clerk
