"""Console sessions: signing in as the API does, an opaque cookie kept only hashed, and every way a session ends."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, YUNXI_TOWN
from tests.console.conftest import SIGN_IN, staff
from tests.core.test_accounts import PASSWORD, bearer
from tulou.audit.models import AuditEntry
from tulou.identity.accounts_models import AccessToken, Account, RoleBinding, TokenKind

MODULES = f"/console/modules/{YUNXI_TOWN}"


def session_of(browser: Any) -> str | None:
    return browser.cookies.get("tulou_session", path="/console")


async def test_signing_in_gives_an_httponly_lax_cookie_kept_only_as_its_digest(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = open_browser()
    response = await lin.sign_in("lin")
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("tulou_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http in tests
    token = session_of(lin)
    [stored] = await AccessToken.filter(kind=TokenKind.SESSION)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(await AccessToken.all().values())
    page = await lin.open("/console/")
    assert page.status_code == 200 and "lin" in page.text


async def test_cookies_are_secure_over_https_or_when_the_setting_says_so(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = open_browser()
    lin.base_url = "https://testserver.local"
    response = await lin.sign_in("lin")
    assert all("Secure" in cookie for cookie in response.headers.get_list("set-cookie"))
    assert "Secure" not in (await open_browser().get(SIGN_IN)).headers["set-cookie"]
    console.app.state.platform.settings.console.secure_cookies = True  # TULOU_CONSOLE__SECURE_COOKIES=true
    assert "Secure" in (await open_browser().get(SIGN_IN)).headers["set-cookie"]


async def test_sign_in_shares_the_apis_lockout_and_audit(console: Any, open_browser: Any) -> None:
    account_id = await staff(console, "lin", "township_admin")
    lin = open_browser()
    refused = await lin.sign_in("lin", "not the password")
    assert refused.status_code == 401 and 'role="alert"' in refused.text
    for _attempt in range(4):
        await lin.sign_in("lin", "still not the password")
    assert (await lin.sign_in("lin")).status_code == 401  # locked, right password or not
    assert (await console.post("/api/v1/auth/token", json={"username": "lin", "password": PASSWORD})).status_code == 401
    failures = await AuditEntry.filter(action="auth.login_failed", target_id=str(account_id)).count()
    assert failures == 7  # five wrong passwords, then locked twice: in the console and through the API
    await Account.filter(id=account_id).update(locked_until=None, failed_logins=0)
    assert (await lin.sign_in("lin")).status_code == 303
    login = await AuditEntry.filter(action="auth.login", target_id=str(account_id)).get()
    assert login.detail == {"channel": "console"}


async def test_an_empty_form_says_which_field_is_missing(console: Any, open_browser: Any) -> None:
    lin = open_browser()
    await lin.open(SIGN_IN)
    response = await lin.submit(SIGN_IN, {"username": "", "password": ""})
    assert response.status_code == 422
    assert 'id="username-error"' in response.text and 'aria-invalid="true"' in response.text
    assert 'aria-describedby="password-error"' in response.text


async def test_a_session_opens_no_api_route_and_a_bearer_token_no_page(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = open_browser()
    await lin.sign_in("lin")
    assert (await lin.get("/api/v1/me/")).status_code == 401
    assert (await lin.get("/api/v1/me/", headers=bearer(session_of(lin)))).status_code == 401
    page = await console.get("/console/", headers=ADMIN)
    assert page.status_code == 303 and page.headers["location"].startswith(SIGN_IN)


async def test_signing_out_ends_the_session_and_the_accounts_tokens(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    api = (await console.post("/api/v1/auth/token", json={"username": "lin", "password": PASSWORD})).json()
    lin = open_browser()
    await lin.sign_in("lin")
    dead = session_of(lin)
    response = await lin.submit("/console/sign-out")
    assert response.status_code == 303 and response.headers["location"] == SIGN_IN
    assert session_of(lin) is None
    lin.cookies.set("tulou_session", dead, path="/console")
    assert (await lin.get("/console/")).headers["location"].startswith(f"{SIGN_IN}?next=%2Fconsole&expired=1")
    assert (await console.get("/api/v1/me/", headers=bearer(api["access_token"]))).status_code == 401


async def test_a_password_change_or_a_removed_binding_ends_the_session_at_once(console: Any, open_browser: Any) -> None:
    account_id = await staff(console, "lin", "township_admin")
    lin, other = open_browser(), open_browser()
    await lin.sign_in("lin")
    await other.sign_in("lin")
    await lin.open("/console/password")
    changed = await lin.submit("/console/password", {
        "current_password": PASSWORD, "new_password": "a brand new long phrase", "repeat_password": "a brand new long phrase"})
    assert changed.status_code == 303 and changed.headers["location"] == f"{SIGN_IN}?changed=1"
    assert (await other.get(MODULES)).status_code == 303
    assert (await lin.sign_in("lin", "a brand new long phrase")).status_code == 303
    assert (await lin.get(MODULES)).status_code == 200
    binding = await RoleBinding.get(account_id=account_id)
    assert (await console.delete(f"/api/v1/role-bindings/{binding.id}", headers=ADMIN)).status_code == 204
    assert (await lin.get(MODULES)).status_code == 303


async def test_a_wrong_current_password_is_shown_next_to_its_field(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = open_browser()
    await lin.sign_in("lin")
    await lin.open("/console/password")
    wrong = await lin.submit("/console/password", {
        "current_password": "nope", "new_password": "a brand new long phrase", "repeat_password": "a brand new long phrase"})
    assert wrong.status_code == 422 and 'id="current_password-error"' in wrong.text
    differ = await lin.submit("/console/password", {
        "current_password": PASSWORD, "new_password": "a brand new long phrase", "repeat_password": "another one"})
    assert 'id="repeat_password-error"' in differ.text
    short = await lin.submit("/console/password", {
        "current_password": PASSWORD, "new_password": "short", "repeat_password": "short"})
    assert 'id="new_password-error"' in short.text
    assert (await lin.get("/console/")).status_code == 200  # nothing was changed, nothing revoked


async def test_a_session_slides_while_used_and_ends_when_idle_or_too_old(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = open_browser()
    await lin.sign_in("lin")
    now = datetime.now(timezone.utc)
    session = AccessToken.filter(kind=TokenKind.SESSION)
    await session.update(expires_at=now + timedelta(minutes=5))
    assert (await lin.get("/console/")).status_code == 200
    slid = (await session.get()).expires_at
    assert timedelta(minutes=29) < slid - now <= timedelta(minutes=31)  # TULOU_CONSOLE__SESSION_IDLE_MINUTES=30
    await session.update(created_at=now - timedelta(hours=12, minutes=1))
    assert (await lin.get("/console/")).status_code == 303  # TULOU_CONSOLE__SESSION_MAX_HOURS=12
    await session.update(created_at=now, expires_at=now - timedelta(seconds=1))
    assert (await lin.get("/console/")).status_code == 303


async def test_an_ended_session_leads_back_to_the_page_after_signing_in(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    lin = open_browser()
    await lin.sign_in("lin")
    await AccessToken.filter(kind=TokenKind.SESSION).update(expires_at=datetime.now(timezone.utc))
    gone = await lin.get(MODULES)
    assert gone.status_code == 303
    assert gone.headers["location"] == f"{SIGN_IN}?next=%2Fconsole%2Fmodules%2F{YUNXI_TOWN}&expired=1"
    assert any(c.startswith('tulou_session=""') or "Max-Age=0" in c for c in gone.headers.get_list("set-cookie"))
    asked = await lin.open(gone.headers["location"])
    assert 'role="status"' in asked.text and f'name="next" value="/console/modules/{YUNXI_TOWN}"' in asked.text
    back = await lin.submit(SIGN_IN, {"username": "lin", "password": PASSWORD, "next": MODULES})
    assert back.headers["location"] == MODULES
    htmx = await lin.get(MODULES, headers={"HX-Request": "true"})
    assert htmx.status_code == 200
    await AccessToken.filter(kind=TokenKind.SESSION).update(expires_at=datetime.now(timezone.utc))
    htmx = await lin.get(f"{MODULES}/notices/enable", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith(f"{SIGN_IN}?next=")


async def test_sign_in_sends_nobody_off_the_console(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    for elsewhere in ("https://evil.example/", "//evil.example/console/", "/api/v1/me/", "/console\\@evil.example"):
        lin = open_browser()
        response = await lin.sign_in("lin", next_page=elsewhere)
        assert response.headers["location"] == "/console/", elsewhere


async def test_a_township_admin_is_told_where_they_work(console: Any, open_browser: Any) -> None:
    await staff(console, "lin", "township_admin")
    await staff(console, "mei", "township_admin", MEILIN_TOWNSHIP)
    lin = open_browser()
    await lin.sign_in("lin")
    page = await lin.open("/console/")
    assert "云溪镇" in page.text and "美林乡" not in page.text and MEILIN_TOWNSHIP not in page.text
