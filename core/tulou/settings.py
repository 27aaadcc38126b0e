"""Settings read from ``TULOU_*`` environment variables and an optional ``.env`` file.

Plugins contribute their own sections (``TULOU_NOTICES__MAX_BODY_LENGTH``), so the
final settings class is assembled after plugins are discovered: see
:func:`build_settings`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "TULOU_"


class DatabaseSettings(BaseModel):
    """Where the data lives: SQLite under ``data_dir`` unless a URL says otherwise."""

    url: str = ""

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"sqlite", "postgres", "postgresql"}:
            raise ValueError("must start with sqlite:// or postgres://")
        return value


class PluginRuntimeSettings(BaseModel):
    """How long the core waits for a plugin's start-up before warning and giving up."""

    startup_warn_seconds: float = Field(10.0, gt=0)
    startup_timeout_seconds: float = Field(60.0, gt=0)


class WebSettings(BaseModel):
    """Limits applied to every HTTP request."""

    max_body_bytes: int = Field(1_048_576, ge=1024)
    module_cache_seconds: float = Field(2.0, ge=0)
    workers: int = Field(1, ge=1)


class JobSettings(BaseModel):
    """Scheduled jobs: a deployment may run them in one dedicated process only."""

    enabled: bool = True


def _split_names(value: Any) -> Any:
    """``"a, b"`` to ``["a", "b"]``; an empty variable counts as unset, not as "no plugins"."""
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",") if name.strip()]
        return names or None
    return value


class CoreSettings(BaseSettings):
    """The core's own settings; plugin sections are added by :func:`build_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    default_locale: str = "zh_CN"
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    admin_token: SecretStr | None = Field(None, min_length=16)
    plugins: Annotated[list[str] | None, NoDecode] = None
    disable_plugins: Annotated[list[str] | None, NoDecode] = None
    database: DatabaseSettings = DatabaseSettings()
    plugin_runtime: PluginRuntimeSettings = PluginRuntimeSettings()
    web: WebSettings = WebSettings()
    jobs: JobSettings = JobSettings()

    _split_plugins = field_validator("plugins", "disable_plugins", mode="before")(
        classmethod(lambda cls, value: _split_names(value))
    )

    @field_validator("default_locale")
    @classmethod
    def _supported_locale(cls, value: str) -> str:
        if value not in {"zh_CN", "en"}:
            raise ValueError("must be zh_CN or en")
        return value

    @property
    def database_url(self) -> str:
        """The effective database URL, defaulting to a WAL-mode SQLite file in ``data_dir``."""
        if self.database.url:
            return self.database.url
        return f"sqlite://{(self.data_dir / 'tulou.sqlite3').resolve()}"

    @property
    def is_postgres(self) -> bool:
        return urlsplit(self.database_url).scheme in {"postgres", "postgresql"}


class SettingsError(Exception):
    """A setting is invalid; the message is one line naming the environment variable."""


def build_settings(
    sections: dict[str, type[BaseModel]] | None = None, **overrides: Any
) -> CoreSettings:
    """Read the settings, with one extra section per plugin that contributed one.

    Raises :class:`SettingsError` naming the first bad variable, so start-up can
    print one clear line instead of a validation dump.
    """
    settings_class: type[CoreSettings] = CoreSettings
    if sections:
        fields: dict[str, Any] = {name: (model, model()) for name, model in sections.items()}
        settings_class = create_model("Settings", __base__=CoreSettings, **fields)
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    """Name the environment variable behind the first error, e.g. ``TULOU_WEB__WORKERS``."""
    first = error.errors()[0]
    variable = ENV_PREFIX + "__".join(str(part) for part in first["loc"]).upper()
    return f"{variable}: {first['msg']} (got {first.get('input')!r})"


def mask_url(url: str) -> str:
    """Hide the password in a database URL."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
    return urlunsplit(parts._replace(netloc=netloc))


def masked_view(settings: CoreSettings) -> dict[str, Any]:
    """The effective settings as plain data with secrets and URL passwords masked."""
    data = settings.model_dump(mode="json")  # SecretStr dumps as "**********"
    data["database"]["url"] = mask_url(settings.database_url)
    return data


def new_admin_token() -> str:
    """A fresh random bootstrap admin token."""
    return secrets.token_urlsafe(32)
