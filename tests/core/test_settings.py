"""Settings from the environment and .env, plugin sections, masking, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.conftest import TEST_BLIND_INDEX_KEY, TEST_ENCRYPTION_KEYS
from tulou.settings import SettingsError, build_settings, masked_view, retired_settings_in_use


class NoticeBoardSettings(BaseModel):
    max_body_length: int = 5000


def test_prefix_nesting_and_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TULOU_PORT=8011\nTULOU_WEB__WORKERS=3\n")
    monkeypatch.setenv("TULOU_DATABASE__URL", "postgres://user:pw@db.example:5432/tulou")
    monkeypatch.setenv("TULOU_PLUGINS", "notices, agriculture")
    settings = build_settings()
    assert settings.port == 8011 and settings.web.workers == 3
    assert settings.is_postgres
    assert settings.plugins == ["notices", "agriculture"]


def test_default_database_is_sqlite_under_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TULOU_DATA_DIR", str(tmp_path / "data"))
    settings = build_settings()
    assert settings.database_url == f"sqlite://{tmp_path / 'data' / 'tulou.sqlite3'}"
    assert not settings.is_postgres


def test_plugin_sections_read_their_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TULOU_NOTICES__MAX_BODY_LENGTH", "42")
    settings = build_settings({"notices": NoticeBoardSettings})
    assert settings.notices.max_body_length == 42  # type: ignore[attr-defined]


def test_a_bad_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TULOU_WEB__WORKERS", "0")
    with pytest.raises(SettingsError, match=r"^TULOU_WEB__WORKERS: "):
        build_settings()
    monkeypatch.delenv("TULOU_WEB__WORKERS")
    monkeypatch.setenv("TULOU_DATABASE__URL", "mysql://x")
    with pytest.raises(SettingsError, match=r"^TULOU_DATABASE__URL: "):
        build_settings()


def test_a_delivery_lease_outlasts_an_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, the lease is three timeouts and 30 s; set, it must be longer than one attempt may take."""
    monkeypatch.setenv("TULOU_EXCHANGE__DELIVERY_TIMEOUT_SECONDS", "5")
    assert build_settings().exchange.lease == 45
    monkeypatch.setenv("TULOU_EXCHANGE__LEASE_SECONDS", "6")
    assert build_settings().exchange.lease == 6
    monkeypatch.setenv("TULOU_EXCHANGE__LEASE_SECONDS", "5")
    with pytest.raises(SettingsError, match=r"^TULOU_EXCHANGE__LEASE_SECONDS: .*DELIVERY_TIMEOUT_SECONDS"):
        build_settings()


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TULOU_IDENTITY__ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("TULOU_IDENTITY__BLIND_INDEX_KEY", TEST_BLIND_INDEX_KEY)
    monkeypatch.setenv("TULOU_DATABASE__URL", "postgres://tulou:hunter2@db:5432/tulou")
    view = str(masked_view(build_settings()))
    for secret in ("hunter2", TEST_ENCRYPTION_KEYS.partition(":")[2], TEST_BLIND_INDEX_KEY):
        assert secret not in view
    assert "postgres://tulou:********@db:5432/tulou" in view


def test_a_retired_variable_is_named_with_what_to_do_instead(tmp_path: Path) -> None:
    assert retired_settings_in_use() == []
    (tmp_path / ".env").write_text("TULOU_ADMIN_TOKEN=left-over-from-an-old-make-run\n")
    [line] = retired_settings_in_use()
    assert line.startswith("TULOU_ADMIN_TOKEN is no longer read: ")
    assert "tulou admin create" in line and "left-over" not in line
    assert not hasattr(build_settings(), "admin_token")


def test_cli_stops_with_one_line_on_a_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TULOU_PORT", "not-a-port")
    result = subprocess.run(
        [sys.executable, "-m", "tulou", "config", "show"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Error: TULOU_PORT: ")
    assert "Traceback" not in result.stderr
