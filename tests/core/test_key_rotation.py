"""Rotating the personal-data key: ``rotate-key`` makes a new key active, ``reencrypt`` moves the data to it.

People are registered under the test key ``ktest``; the ring then gains ``kb`` as the
active key, as after ``rotate-key`` and a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS
from tests.core.test_people import PEOPLE, bearer, create, person, resident_id, staff
from tulou.audit.models import AuditEntry
from tulou.audit.service import verify_chain
from tulou.identity import rotation
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.models import Person
from tulou.identity.people import PHONE
from tulou.identity.rotation import StoredToken, reencrypt
from tulou.settings import build_settings, parse_key

KEY_B = "kb:msATnqMwgvX1PK50B1UuX87bA_J2YWVklZNXStUrRvY"
RING_AB = {"encryption_keys": f"{TEST_ENCRYPTION_KEYS},{KEY_B}", "active_key": "kb", "blind_index_key": TEST_BLIND_INDEX_KEY}
RING_B = {"encryption_keys": KEY_B, "blind_index_key": TEST_BLIND_INDEX_KEY}


def run_tulou(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tulou", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={**os.environ, "TULOU_DEFAULT_LOCALE": "en", "TULOU_DATA_DIR": str(cwd / "data"), **env},
    )


def identity_environment(identity: dict[str, str]) -> dict[str, str]:
    return {f"TULOU_IDENTITY__{name.upper()}": value for name, value in identity.items()}


@pytest.fixture
def tulou(database_url: str, tmp_path: Path):  # noqa: ANN201 - returns a runner
    """``tulou(...)`` on the test's database, with the ring of keys A and B, B active."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_tulou(*args, cwd=tmp_path, TULOU_DATABASE__URL=database_url, **identity_environment(RING_AB))

    return run


# -- tulou identity rotate-key --------------------------------------------------------


def test_rotate_key_adds_an_active_key_and_keeps_the_old_ones(tmp_path: Path) -> None:
    env_file = tmp_path / "tulou.env"
    # One key and no ACTIVE_KEY line (optional then): the first rotation must add it.
    env_file.write_text(
        f"# Tulou\nTULOU_PORT=8011\nTULOU_IDENTITY__ENCRYPTION_KEYS={TEST_ENCRYPTION_KEYS}\n"
        f"TULOU_IDENTITY__BLIND_INDEX_KEY={TEST_BLIND_INDEX_KEY}\nTULOU_LOG_LEVEL=INFO\n"
    )
    env_file.chmod(0o640)
    first = run_tulou("identity", "rotate-key", "--env-file", str(env_file), cwd=tmp_path)
    second = run_tulou("identity", "rotate-key", "--env-file", str(env_file), cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr

    lines = env_file.read_text().splitlines()
    assert lines[:2] == ["# Tulou", "TULOU_PORT=8011"]
    assert lines[3:] == [
        f"TULOU_IDENTITY__BLIND_INDEX_KEY={TEST_BLIND_INDEX_KEY}", "TULOU_LOG_LEVEL=INFO",
        f"TULOU_IDENTITY__ACTIVE_KEY={lines[-1].partition('=')[2]}",
    ]
    identity = build_settings(_env_file=env_file).identity
    ring = identity.keyring()
    old_id, old_key = TEST_ENCRYPTION_KEYS.split(":")
    assert len(ring) == 3 and list(ring)[0] == old_id and ring[old_id] == parse_key(old_key)
    assert identity.active_key == list(ring)[2] and identity.active_key in second.stdout
    assert list(ring)[1] in first.stdout and "tulou identity reencrypt" in first.stdout
    new_keys = [entry.partition(":")[2] for entry in lines[2].partition("=")[2].split(",")[1:]]
    assert not any(key in first.stdout + second.stdout for key in new_keys)
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in tmp_path.iterdir() if path.name != "data") == ["tulou.env"]


@pytest.mark.parametrize(
    ("file_text", "environment", "told"),
    [
        (
            f"TULOU_IDENTITY__ENCRYPTION_KEYS={TEST_ENCRYPTION_KEYS}\nTULOU_IDENTITY__BLIND_INDEX_KEY={TEST_BLIND_INDEX_KEY}\n",
            identity_environment({"encryption_keys": TEST_ENCRYPTION_KEYS, "blind_index_key": TEST_BLIND_INDEX_KEY}),
            "rotate by hand",
        ),
        ("TULOU_PORT=8011\n", {}, "tulou identity new-keys"),
        (
            f"TULOU_IDENTITY__ENCRYPTION_KEYS={TEST_ENCRYPTION_KEYS}\nTULOU_IDENTITY__BLIND_INDEX_KEY={TEST_BLIND_INDEX_KEY}\n"
            "TULOU_IDENTITY__ACTIVE_KEY=ktest\nexport TULOU_IDENTITY__ACTIVE_KEY=ktest\n",
            {},
            "more than once",
        ),
    ],
    ids=["keys-in-environment", "no-keys", "set-twice"],
)
def test_rotate_key_refuses_what_it_cannot_edit_safely(
    tmp_path: Path, file_text: str, environment: dict[str, str], told: str
) -> None:
    env_file = tmp_path / "tulou.env"
    env_file.write_text(file_text)
    result = run_tulou("identity", "rotate-key", "--env-file", str(env_file), cwd=tmp_path, **environment)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert told in result.stderr and "TULOU_IDENTITY__" in result.stderr
    assert env_file.read_text() == file_text


# -- tulou identity reencrypt ---------------------------------------------------------


async def register(client: Any, serials: range) -> list[dict[str, Any]]:
    client.app.state.platform.authenticators.append(staff)
    return [await create(client, person(serial, phone=f"1381234{serial:04d}")) for serial in serials]


async def stored_people() -> list[dict[str, Any]]:
    return await Person.all().order_by("id").values()


async def test_reencrypt_moves_every_token_to_the_active_key(serve: Any, tulou: Any) -> None:
    async with serve() as client:
        people = await register(client, range(11, 14))
        await create(client, person(14))  # no phone: nothing to rotate there
        before = await stored_people()

    dry_run = tulou("identity", "reencrypt", "--dry-run")
    first = tulou("identity", "reencrypt", "--batch-size", "2")
    assert dry_run.returncode == 0 and "7 token(s) from key ktest would be re-encrypted under kb" in dry_run.stdout
    assert first.returncode == 0, first.stderr
    assert "7 token(s) from key ktest re-encrypted under kb" in first.stdout
    assert "Stored tokens by key: kb (7)" in first.stdout and "No stored token uses ktest any more" in first.stdout

    async with serve(identity=RING_AB):
        after_first = await stored_people()
    second = tulou("identity", "reencrypt")
    assert second.returncode == 0 and "No token needed re-encrypting" in second.stdout

    async with serve(identity=RING_B) as client:  # ktest has left the ring
        client.app.state.platform.authenticators.append(staff)
        assert await stored_people() == after_first
        for old, new in zip(before, after_first, strict=True):
            assert new["resident_id_cipher"].startswith("v1.kb.") and new["resident_id_cipher"] != old["resident_id_cipher"]
            assert (new["phone_cipher"] or "v1.kb.").startswith("v1.kb.")
            unchanged = {name: value for name, value in old.items() if not name.endswith("_cipher")}
            assert unchanged == {name: new[name] for name in unchanged}  # blind indexes, updated_at, ...

        first_id = people[0]["id"]
        steward = (await client.get(f"{PEOPLE}/{first_id}", headers=bearer("yunxi-steward"))).json()
        reader = (await client.get(f"{PEOPLE}/{first_id}", headers=bearer("yunxi-reader"))).json()
        found = await client.post(f"{PEOPLE}/lookup", json={"resident_id": resident_id(12)}, headers=bearer("yunxi-reader"))
        assert (steward["resident_id"], steward["phone"], steward["masked"]) == (resident_id(11), "13812340011", False)
        assert reader["masked"] and reader["phone"] == "138****0011"
        assert found.status_code == 200 and found.json()["id"] == people[1]["id"]

        entries = await AuditEntry.filter(action="identity.reencrypted").order_by("id")
        assert [(entry.actor, entry.detail["column"], entry.detail["reencrypted"]) for entry in entries] == [
            ("cli", "person.resident_id", 2), ("cli", "person.resident_id", 2),
            ("cli", "person.phone", 2), ("cli", "person.phone", 1),
        ]  # the dry run and the second run wrote none
        assert entries[0].detail == {
            "column": "person.resident_id", "to_key": "kb", "from_keys": {"ktest": 2},
            "reencrypted": 2, "changed_meanwhile": 0, "unreadable": 0,
        }
        assert (await verify_chain()).ok


async def test_a_token_that_does_not_decrypt_is_reported_and_the_others_move(serve: Any, tulou: Any) -> None:
    async with serve() as client:
        people = await register(client, range(11, 14))
        broken = people[1]["id"]
        # A resident-ID token moved into the phone column is sealed to another column: it does not decrypt.
        moved = (await Person.get(id=broken)).resident_id_cipher
        await Person.filter(id=broken).update(phone_cipher=moved)

    result = tulou("identity", "reencrypt")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"person.phone #{broken}" in result.stderr and moved not in result.stdout + result.stderr
    assert "5 token(s) from key ktest re-encrypted under kb" in result.stdout
    assert "Keep ktest: stored tokens still use them" in result.stdout

    async with serve(identity=RING_AB):
        rows = {row["id"]: row for row in await stored_people()}
    assert rows[broken]["phone_cipher"] == moved
    assert all(row["resident_id_cipher"].startswith("v1.kb.") for row in rows.values())
    assert all(row["phone_cipher"].startswith("v1.kb.") for row in rows.values() if row["id"] != broken)


async def test_an_edit_made_while_reencrypting_is_not_overwritten(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve() as client:
        edited = (await register(client, range(11, 13)))[0]["id"]

    async with serve(identity=RING_AB) as client:
        client.app.state.platform.authenticators.append(staff)
        write_batch = rotation._write

        async def edit_then_write(cipher: PersonalDataCipher, column: Any, *args: Any) -> set[int]:
            """The API changes a phone number after the batch was read, before it is written."""
            if column.context == PHONE:
                response = await client.patch(f"{PEOPLE}/{edited}", json={"phone": "13900000000"}, headers=ADMIN)
                assert response.status_code == 200, response.text
            return await write_batch(cipher, column, *args)

        monkeypatch.setattr(rotation, "_write", edit_then_write)
        cipher = PersonalDataCipher.from_settings(client.app.state.platform.settings)
        report = await reencrypt(cipher)

        assert report.changed_meanwhile == [StoredToken(PHONE, edited)]
        assert report.reencrypted == {"ktest": 3} and report.tokens_by_key == {"kb": 4}
        assert report.removable_keys(cipher.key_ids) == ["ktest"]
        body = (await client.get(f"{PEOPLE}/{edited}", headers=bearer("yunxi-steward"))).json()
        assert body["phone"] == "13900000000"
        entry = await AuditEntry.filter(action="identity.reencrypted").order_by("-id").first()
        assert entry is not None and entry.detail["changed_meanwhile"] == 1 and entry.detail["reencrypted"] == 1
