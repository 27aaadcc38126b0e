"""What a bad bearer token gets: a 401 problem with a challenge, and no hint of why.

tests/core/test_accounts.py shows that expired, tampered and revoked tokens stop
working; here every way a token can be bad gets the same answer, so a caller cannot
tell a revoked token from an expired or made-up one, and junk never gets further.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN, SHANGPING_VILLAGE, YUNXI_TOWN, cheap_passwords
from tests.core.test_accounts import PASSWORD, account, bearer, login, tokens
from tests.core.test_people import person
from tulou.identity.accounts_models import AccessToken, Account, AccountStatus, RoleBinding
from tulou.identity.models import Person
from tulou.identity.auth import token_hash

ME, PEOPLE = "/api/v1/me/", "/api/v1/people/"
CHALLENGE, INVALID_TOKEN = "Bearer", 'Bearer error="invalid_token"'


@pytest.fixture
async def client(serve: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    cheap_passwords(monkeypatch)
    async with serve() as test_client:
        yield test_client


def b64url(value: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


UNSIGNED_JWT = f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url({'sub': '1'})}."


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The 401's problem body without what differs per request."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "urn:tulou:problem:unauthorized" and body["status"] == 401
    return {key: value for key, value in body.items() if key not in ("request_id", "instance")}


def one_char_changed(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]


#: Authorization headers that are no credentials at all, with the challenge each must get.
JUNK: dict[str, tuple[str | bytes | None, str]] = {
    "no header": (None, CHALLENGE),
    "empty": ("", CHALLENGE),
    "scheme only": ("Bearer", CHALLENGE),
    "blank token": ("Bearer    ", CHALLENGE),
    "basic, right password": ("Basic " + base64.b64encode(f"lin:{PASSWORD}".encode()).decode(), CHALLENGE),
    "admin token, other scheme": (f"Token {ADMIN_TOKEN}", CHALLENGE),
    "jwt with alg none": (f"Bearer {UNSIGNED_JWT}", INVALID_TOKEN),
    "admin token one char off": (f"Bearer {one_char_changed(ADMIN_TOKEN)}", INVALID_TOKEN),
    "admin token cut short": (f"Bearer {ADMIN_TOKEN[:-1]}", INVALID_TOKEN),
    "very long": ("Bearer " + "x" * 16_000, INVALID_TOKEN),
    "non-ascii": ("Bearer 令牌令牌令牌".encode(), INVALID_TOKEN),
    "binary": (b"Bearer \xff\xfe\x00\x01", INVALID_TOKEN),
}


async def test_junk_credentials_get_a_challenge(client: Any) -> None:
    await account(client, "lin", "township_admin")
    answers = {}
    for case, (authorization, _challenge) in JUNK.items():
        headers = {} if authorization is None else {"Authorization": authorization}
        for url in (ME, PEOPLE):
            response = await client.get(url, headers=headers)
            answers[case, url] = (response.status_code, response.headers.get("www-authenticate"))
            if response.status_code == 401:
                problem_of(response)
    assert answers == {(case, url): (401, challenge) for case, (_, challenge) in JUNK.items() for url in (ME, PEOPLE)}


async def test_the_scheme_is_case_insensitive_but_the_url_is_no_place_for_a_token(client: Any) -> None:
    await account(client, "lin", "township_admin")
    token = (await tokens(client, "lin"))["access_token"]
    assert (await client.get(ME, headers={"Authorization": f"bearer {token}"})).status_code == 200
    in_query = await client.get(ME, params={"access_token": token})
    problem_of(in_query)
    assert in_query.headers["www-authenticate"] == CHALLENGE


async def dead_tokens(client: Any) -> dict[str, str]:
    """One token dead of each cause. Revoked ones work until their revocation, so a cached principal would show."""
    await account(client, "lin", "township_admin")
    dead: dict[str, str] = {}

    async def live(username: str, password: str = PASSWORD) -> str:
        response = await login(client, username, password)
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert (await client.get(PEOPLE, headers=bearer(token))).status_code == 200
        return token

    dead["logged out"] = await live("lin")
    assert (await client.post("/api/v1/auth/logout", headers=bearer(dead["logged out"]))).status_code == 204
    dead["password changed"] = await live("lin")
    changed = await client.post(ME + "password", headers=bearer(dead["password changed"]),
                                json={"current_password": PASSWORD, "new_password": "a much newer passphrase"})
    assert changed.status_code == 204
    dead["binding removed"] = await live("lin", "a much newer passphrase")
    [binding] = (await client.get(ME, headers=bearer(dead["binding removed"]))).json()["bindings"]
    assert (await client.delete(f"/api/v1/role-bindings/{binding['id']}", headers=ADMIN)).status_code == 204
    # Expiry and disabling are written straight to the database, with no route to drop a cached
    # principal, so these tokens are never shown before they die.
    await account(client, "wu", "township_admin")
    issued = await tokens(client, "wu")
    await AccessToken.filter(token_hash=token_hash(issued["access_token"])).update(
        expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    dead["expired"] = issued["access_token"]
    await account(client, "chen", "township_admin")
    dead["account disabled"] = (await tokens(client, "chen"))["access_token"]
    await Account.filter(username="chen").update(status=AccountStatus.DISABLED)
    dead["refresh token as access"] = (await tokens(client, "wu"))["refresh_token"]
    dead["one char changed"] = one_char_changed((await tokens(client, "wu"))["access_token"])
    dead["never issued"] = "a" * 43
    dead["alg none"] = UNSIGNED_JWT
    return dead


async def test_every_dead_token_gets_the_same_answer(client: Any) -> None:
    dead = await dead_tokens(client)
    answers = {}
    for cause, token in dead.items():
        for url in (ME, PEOPLE):
            response = await client.get(url, headers=bearer(token))
            answers[cause, url] = problem_of(response)
            assert response.headers["www-authenticate"] == INVALID_TOKEN, cause
    assert len({json.dumps(answer, sort_keys=True) for answer in answers.values()}) == 1, answers


async def test_a_dead_token_reaches_no_data(client: Any) -> None:
    """A revoked token is refused before any route runs: not even a 404 tells what exists."""
    created = await client.post(PEOPLE, json=person(31, village=SHANGPING_VILLAGE), headers=ADMIN)
    assert created.status_code == 201
    await account(client, "lin", "township_admin")
    token = (await tokens(client, "lin"))["access_token"]
    assert (await client.get(f"{PEOPLE}{created.json()['id']}", headers=bearer(token))).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
    bindings = await RoleBinding.all().count()
    for method, url, body in (
        ("GET", f"{PEOPLE}{created.json()['id']}", None), ("GET", f"{PEOPLE}999999", None),
        ("POST", PEOPLE, person(32, village=SHANGPING_VILLAGE)),
        ("POST", "/api/v1/role-bindings/", {"account": 1, "role": "county_admin", "area": YUNXI_TOWN}),
    ):
        problem_of(await client.request(method, url, json=body, headers=bearer(token)))
    assert await Person.all().count() == 1 and await RoleBinding.all().count() == bindings
