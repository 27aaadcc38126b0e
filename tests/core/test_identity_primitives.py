"""Personal-data primitives: resident ID and phone checks, encryption at rest, masking, keys."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from tulou.errors import Invalid, Unavailable
from tulou.i18n import current_locale
from tulou.identity.crypto import PersonalDataCipher, UnreadableToken, new_key
from tulou.identity.masking import mask_name, mask_phone, mask_resident_id
from tulou.identity.resident_id import parse_phone, parse_resident_id
from tulou.settings import SettingsError, build_settings

TODAY = date(2026, 6, 1)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID = "person.resident_id"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Messages are matched in English, whatever catalogues an earlier test installed."""
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


def with_check_digit(first_17: str) -> str:
    """The full number, computed here independently of the code under test."""
    return first_17 + "10X98765432"[sum(int(d) * w for d, w in zip(first_17, WEIGHTS)) % 11]


def invalid_message(text: str, field: str = "resident_id") -> str:
    with pytest.raises(Invalid) as caught:
        parse_resident_id(text, field, today=TODAY)
    assert caught.value.field == field
    assert caught.value.errors == [{"field": field, "message": caught.value.detail}]
    return caught.value.detail


# -- resident ID numbers --------------------------------------------------------------


def test_the_standard_example_has_check_character_x_and_lower_case_is_accepted() -> None:
    assert with_check_digit("11010519491231002") == "11010519491231002X"
    parsed = parse_resident_id(" 11010519491231002x ", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.region_code == "110105"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"


@pytest.mark.parametrize(
    ("first_17", "born", "sex"),
    [
        ("35089919900101123", date(1990, 1, 1), "male"),
        ("33010220000229004", date(2000, 2, 29), "female"),
        ("44030419001231567", date(1900, 12, 31), "male"),
        ("35089920260601001", TODAY, "male"),
    ],
)
def test_valid_numbers_give_birth_date_and_sex(first_17: str, born: date, sex: str) -> None:
    parsed = parse_resident_id(with_check_digit(first_17), today=TODAY)
    assert (parsed.birth_date, parsed.sex, parsed.region_code) == (born, sex, first_17[:6])


def test_full_width_digits_are_folded() -> None:
    number = with_check_digit("35089919900101123")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert parse_resident_id(full_width, today=TODAY).number == number


def test_a_wrong_check_digit_is_refused() -> None:
    number = with_check_digit("35089919900101123")
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert "does not match" in invalid_message(wrong)


@pytest.mark.parametrize(
    ("first_17", "words"),
    [
        ("35089919900230123", "not a real date"),
        ("35089919901301123", "not a real date"),
        ("35089920260602123", "in the future"),
        ("35089918991231123", "before 1900"),
    ],
)
def test_impossible_future_and_ancient_birth_dates_are_refused(first_17: str, words: str) -> None:
    assert words in invalid_message(with_check_digit(first_17))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("35089919900101123", "18 characters, not 17"),
        ("3508991990010112345", "18 characters, not 19"),
        ("", "18 characters, not 0"),
        ("35089919900101123A", "17 digits followed by a digit or X"),
        ("3508991990X101123X", "17 digits followed by a digit or X"),
    ],
)
def test_wrong_length_or_characters_are_refused(text: str, words: str) -> None:
    assert words in invalid_message(text)


def test_the_caller_names_the_field() -> None:
    invalid_message("123", field="guardian_resident_id")


def test_messages_are_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    from tulou import i18n

    monkeypatch.setattr(i18n, "_active", i18n.core_catalogs())
    token = current_locale.set("zh_CN")
    try:
        detail = invalid_message(with_check_digit("35089919900230123"))
    finally:
        current_locale.reset(token)
    assert "19900230" in detail and "not a real date" not in detail


# -- phone numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("8619912345678", "13812345678".replace("138", "199")),
        ("0597-1234567", "0597-1234567"),
        ("05971234567", "0597-1234567"),
        ("(0597) 12345678", "0597-12345678"),
        ("010-12345678", "010-12345678"),
        ("02187654321", "021-87654321"),
    ],
)
def test_phone_numbers_are_made_canonical(text: str, canonical: str) -> None:
    assert parse_phone(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12812345678",
        "1381234567",
        "138123456789",
        "+1 138 1234 5678",
        "0597-123456",
        "597-1234567",
        "abc",
    ],
)
def test_other_phone_numbers_are_refused(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_phone(text)
    assert caught.value.field == "phone"
    assert "0597-1234567" in caught.value.detail


# -- encryption and blind index -------------------------------------------------------


def keys_settings(**identity: str) -> dict[str, dict[str, str]]:
    return {"identity": identity}


@pytest.fixture
def cipher() -> PersonalDataCipher:
    return PersonalDataCipher.from_settings(
        build_settings(
            identity={"encryption_keys": f"old:{new_key()}", "blind_index_key": new_key()}
        )
    )


def test_round_trip_with_a_fresh_nonce_each_time(cipher: PersonalDataCipher) -> None:
    first = cipher.encrypt("330102199001011234", RESIDENT_ID)
    second = cipher.encrypt("330102199001011234", RESIDENT_ID)
    assert first != second
    assert first.startswith("v1.old.") and "330102" not in first
    assert (
        cipher.decrypt(first, RESIDENT_ID)
        == cipher.decrypt(second, RESIDENT_ID)
        == "330102199001011234"
    )
    assert cipher.decrypt(cipher.encrypt("张三丰 ☎", "person.note"), "person.note") == "张三丰 ☎"


def test_blind_index_is_stable_per_value_and_column(cipher: PersonalDataCipher) -> None:
    index = cipher.blind_index("330102199001011234", RESIDENT_ID)
    assert index == cipher.blind_index("330102199001011234", RESIDENT_ID)
    assert index != cipher.blind_index("330102199001011235", RESIDENT_ID)
    assert index != cipher.blind_index("330102199001011234", "person.phone")
    assert len(index) == 64 and "1234" not in index


def test_blind_index_depends_on_its_own_key(cipher: PersonalDataCipher) -> None:
    other = PersonalDataCipher({"old": b"\x00" * 32}, "old", blind_index_key=b"\x01" * 32)
    assert other.blind_index("13812345678", "person.phone") != cipher.blind_index(
        "13812345678", "person.phone"
    )


def test_a_token_moved_to_another_column_does_not_decrypt(cipher: PersonalDataCipher) -> None:
    token = cipher.encrypt("13812345678", "person.phone")
    with pytest.raises(UnreadableToken, match="person.resident_id"):
        cipher.decrypt(token, RESIDENT_ID)


@pytest.mark.parametrize("position", [8, -1, -20])
def test_a_tampered_token_does_not_decrypt(cipher: PersonalDataCipher, position: int) -> None:
    token = cipher.encrypt("13812345678", "person.phone")
    flipped = "A" if token[position] != "A" else "B"
    tampered = (
        token[:position] + flipped + token[position + 1 :]
        if position != -1
        else token[:-1] + flipped
    )
    with pytest.raises(UnreadableToken):
        cipher.decrypt(tampered, "person.phone")


@pytest.mark.parametrize(
    "token", ["", "13812345678", "v2.old.AAAA", "v1.old", "v1..AAAA", "v1.old.AA.AA"]
)
def test_things_that_are_not_tokens_are_refused(cipher: PersonalDataCipher, token: str) -> None:
    with pytest.raises(UnreadableToken):
        cipher.decrypt(token, "person.phone")


def test_rotation_keeps_old_tokens_readable() -> None:
    old_key, blind = new_key(), new_key()
    before = PersonalDataCipher.from_settings(
        build_settings(identity={"encryption_keys": f"old:{old_key}", "blind_index_key": blind})
    )
    token = before.encrypt("13812345678", "person.phone")
    after = PersonalDataCipher.from_settings(
        build_settings(
            identity={
                "encryption_keys": f"old:{old_key},new:{new_key()}",
                "active_key": "new",
                "blind_index_key": blind,
            }
        )
    )
    assert not before.needs_rotation(token)
    assert after.needs_rotation(token)
    assert after.decrypt(token, "person.phone") == "13812345678"
    fresh = after.encrypt("13812345678", "person.phone")
    assert fresh.startswith("v1.new.") and not after.needs_rotation(fresh)
    assert after.blind_index("13812345678", "person.phone") == before.blind_index(
        "13812345678", "person.phone"
    )


def test_an_unknown_key_id_is_named() -> None:
    writer = PersonalDataCipher({"gone": os.urandom(32)}, "gone", os.urandom(32))
    reader = PersonalDataCipher({"kept": os.urandom(32)}, "kept", os.urandom(32))
    with pytest.raises(UnreadableToken, match="gone.*TULOU_IDENTITY__ENCRYPTION_KEYS"):
        reader.decrypt(writer.encrypt("x", "person.phone"), "person.phone")


def test_without_keys_personal_data_cannot_be_stored() -> None:
    with pytest.raises(Unavailable, match="tulou identity new-keys") as caught:
        PersonalDataCipher.from_settings(build_settings())
    assert caught.value.status == 503


# -- settings -------------------------------------------------------------------------


def hex_key() -> str:
    return os.urandom(32).hex()


def test_keys_may_be_base64_standard_url_safe_or_hex() -> None:
    raw = os.urandom(32)
    standard = base64.b64encode(raw).decode()
    settings = build_settings(
        identity={"encryption_keys": f"a:{standard}", "blind_index_key": raw.hex()}
    )
    assert settings.identity.keyring() == {"a": raw}
    assert settings.identity.blind_index_secret() == raw
    assert settings.identity.active_key == "a"


@pytest.mark.parametrize(
    ("identity", "variable", "words"),
    [
        (
            {
                "encryption_keys": "a:" + base64.b64encode(b"x" * 16).decode(),
                "blind_index_key": "k" * 43,
            },
            "TULOU_IDENTITY__ENCRYPTION_KEYS",
            "must be 32 bytes, not 16",
        ),
        (
            {"encryption_keys": "a:not*base64!", "blind_index_key": "k" * 43},
            "TULOU_IDENTITY__ENCRYPTION_KEYS",
            "neither base64 nor hex",
        ),
        (
            {"encryption_keys": "no-key-id", "blind_index_key": "k" * 43},
            "TULOU_IDENTITY__ENCRYPTION_KEYS",
            "key-id:base64-key",
        ),
        (
            {"encryption_keys": "a.b:" + "k" * 43, "blind_index_key": "k" * 43},
            "TULOU_IDENTITY__ENCRYPTION_KEYS",
            "key-id:base64-key",
        ),
        (
            {"encryption_keys": f"a:{'k' * 43},a:{'j' * 43}", "blind_index_key": "k" * 43},
            "TULOU_IDENTITY__ENCRYPTION_KEYS",
            "appears twice",
        ),
        (
            {"encryption_keys": f"a:{'k' * 43}", "active_key": "b", "blind_index_key": "k" * 43},
            "TULOU_IDENTITY__ACTIVE_KEY",
            "not a key id",
        ),
        (
            {"encryption_keys": f"a:{'k' * 43},b:{'j' * 43}", "blind_index_key": "k" * 43},
            "TULOU_IDENTITY__ACTIVE_KEY",
            "several",
        ),
        ({"encryption_keys": f"a:{'k' * 43}"}, "TULOU_IDENTITY__BLIND_INDEX_KEY", "together"),
        ({"blind_index_key": "k" * 43}, "TULOU_IDENTITY__BLIND_INDEX_KEY", "together"),
        (
            {"encryption_keys": f"a:{'k' * 43}", "blind_index_key": "k" * 42 + "="},
            "TULOU_IDENTITY__BLIND_INDEX_KEY",
            "32 bytes",
        ),
    ],
)
def test_bad_keys_name_their_variable(identity: dict[str, str], variable: str, words: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: ") as caught:
        build_settings(identity=identity)
    assert words in str(caught.value)
    secrets = [value for value in identity.values() if len(value) > 20]
    assert not [secret for secret in secrets if secret in str(caught.value)], (
        "a key leaked into the error"
    )


def test_keys_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = hex_key()
    monkeypatch.setenv("TULOU_IDENTITY__ENCRYPTION_KEYS", f"k1:{key}")
    monkeypatch.setenv("TULOU_IDENTITY__BLIND_INDEX_KEY", hex_key())
    assert build_settings().identity.keyring() == {"k1": bytes.fromhex(key)}
    monkeypatch.setenv("TULOU_IDENTITY__ACTIVE_KEY", "k2")
    with pytest.raises(SettingsError, match="^TULOU_IDENTITY__ACTIVE_KEY: "):
        build_settings()


# -- masking --------------------------------------------------------------------------


def test_masking() -> None:
    assert mask_resident_id("330102199001011234") == "330102********1234"
    assert mask_resident_id("11010519491231002X") == "110105********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0597-1234567") == "0597-*****67"
    assert mask_phone("010-12345678") == "010-******78"
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳建国") == "欧**国"
    assert mask_resident_id("1234") == "****"


# -- tulou identity new-keys ----------------------------------------------------------


def tulou(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tulou", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={
            **os.environ,
            "TULOU_DEFAULT_LOCALE": "en",
            "TULOU_DATA_DIR": str(cwd / "data"),
            **env,
        },
    )


def test_new_keys_writes_keys_the_settings_read_and_refuses_to_replace_them(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TULOU_PORT=8011")  # no final newline: the keys must not join this line
    first = tulou("identity", "new-keys", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    written = env_file.read_text()
    assert written.startswith("TULOU_PORT=8011\nTULOU_IDENTITY__ENCRYPTION_KEYS=")
    assert env_file.stat().st_mode & 0o077 == 0
    settings = build_settings(_env_file=env_file)
    assert settings.port == 8011
    cipher = PersonalDataCipher.from_settings(settings)
    assert cipher.active_key in first.stdout and str(env_file.name) in first.stdout
    assert settings.identity.encryption_keys.get_secret_value().split(":")[1] not in first.stdout
    assert (
        cipher.decrypt(cipher.encrypt("13812345678", "person.phone"), "person.phone")
        == "13812345678"
    )

    second = tulou("identity", "new-keys", cwd=tmp_path)
    assert second.returncode == 0 and "already configured" in second.stdout
    assert env_file.read_text() == written


def test_new_keys_leaves_keys_set_in_the_environment_alone(tmp_path: Path) -> None:
    result = tulou(
        "identity",
        "new-keys",
        "--env-file",
        "keys.env",
        cwd=tmp_path,
        TULOU_IDENTITY__ENCRYPTION_KEYS=f"a:{new_key()}",
        TULOU_IDENTITY__BLIND_INDEX_KEY=new_key(),
    )
    assert result.returncode == 0 and "already configured" in result.stdout
    assert not (tmp_path / "keys.env").exists()


def test_new_keys_refuses_to_complete_a_half_configuration(tmp_path: Path) -> None:
    env_file = tmp_path / "keys.env"
    env_file.write_text(f"TULOU_IDENTITY__BLIND_INDEX_KEY={new_key()}\n")
    before = env_file.read_text()
    result = tulou("identity", "new-keys", "--env-file", str(env_file), cwd=tmp_path)
    assert result.returncode == 1
    assert "TULOU_IDENTITY__BLIND_INDEX_KEY" in result.stderr and "Traceback" not in result.stderr
    assert env_file.read_text() == before


def test_a_half_configuration_stops_every_command_in_one_line(tmp_path: Path) -> None:
    result = tulou("config", "show", cwd=tmp_path, TULOU_IDENTITY__ENCRYPTION_KEYS=f"a:{new_key()}")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: TULOU_IDENTITY__BLIND_INDEX_KEY: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
