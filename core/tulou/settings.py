"""Settings read from ``TULOU_*`` environment variables and an optional ``.env`` file.

Plugins contribute their own sections (``TULOU_NOTICES__MAX_BODY_LENGTH``), so the
final settings class is assembled after plugins are discovered: see
:func:`build_settings`.
"""

from __future__ import annotations

import base64
import re
import string
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "TULOU_"
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


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


class MqttSettings(BaseModel):
    """Telemetry over MQTT through the county's Mosquitto broker; off while ``url`` is empty.

    ``username`` and ``password`` are Tulou's own account on the broker, which may
    subscribe to every device's telemetry topic and manage the dynamic-security plugin
    (``deploy/mosquitto/``). ``password_key`` derives each device's broker password
    from its token, so Tulou can recreate a device's broker account at any time
    while keeping only the token's digest.
    """

    model_config = ConfigDict(validate_default=True)

    url: str = Field("", description="mqtt://host:port or mqtts://host:port; empty: no broker, HTTP only")
    username: str = "tulou"
    password: SecretStr | None = None
    password_key: SecretStr | None = Field(None, description="32 bytes, hex or base64: derives devices' passwords")
    ca_file: Path | None = Field(None, description="CA certificates for mqtts://; the system's by default")
    client_id_prefix: str = Field("", max_length=48, description="this host's session names; tulou-<hostname> by default")
    receive_maximum: int = Field(4000, ge=1, le=65535, description="messages one process holds unacknowledged")
    session_expiry_seconds: int = Field(7 * 86400, ge=60, description="how long the broker keeps a stopped process's queue")
    max_batch: int = Field(1000, ge=1, le=10_000, description="messages checked and written together")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname):
            raise ValueError("must be mqtt://host:port or mqtts://host:port")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials: set TULOU_DEVICES__MQTT__USERNAME and __PASSWORD")
        return value

    @field_validator("password_key")
    @classmethod
    def _key_format(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_key(value.get_secret_value())
        return value

    @field_validator("password_key", "password", mode="after")
    @classmethod
    def _required_with_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("url") and value is None:
            raise ValueError("is required when TULOU_DEVICES__MQTT__URL is set")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class DeviceSettings(BaseModel):
    """The telemetry write path: how readings are grouped into commits, and when callers must wait.

    Concurrent requests' readings are written together, one transaction per group:
    a group is flushed when it reaches ``flush_rows`` or has waited ``flush_linger_ms``.
    Past ``max_pending_rows`` waiting to be written, requests get 503 with Retry-After.
    Raw readings are kept ``raw_retention_days``, their hourly aggregates at least as long.
    """

    flush_rows: int = Field(20_000, ge=1, description="rows that make the writer commit at once")
    flush_linger_ms: float = Field(2.0, ge=0, le=1000, description="how long a small group waits for company")
    max_pending_rows: int = Field(400_000, ge=1000, description="rows waiting to be written before 503")
    max_readings_per_request: int = Field(10_000, ge=1, le=1_000_000)
    future_tolerance_seconds: int = Field(300, ge=0, description="how far ahead of the server a reading may be")
    offline_grace: float = Field(1.5, ge=1.0, le=10.0, description="heartbeats missed, times this, before offline")
    mqtt: MqttSettings = MqttSettings()
    raw_retention_days: int = Field(30, ge=1, le=36_500, description="days raw readings are kept")
    aggregate_retention_days: int = Field(730, ge=1, le=36_500, description="days hourly aggregates are kept")

    @field_validator("aggregate_retention_days")
    @classmethod
    def _aggregates_outlive_readings(cls, value: int, info: ValidationInfo) -> int:
        raw = info.data.get("raw_retention_days")
        if raw is not None and value < raw:
            raise ValueError(f"must be at least raw_retention_days ({raw})")
        return value


class JobSettings(BaseModel):
    """Scheduled jobs: a deployment may run them in one dedicated process only."""

    enabled: bool = True


class ExchangeSettings(BaseModel):
    """Subscriptions' deliveries: which private hosts may receive them, and how hard to try.

    ``webhook_allow`` lists host names and addresses or networks (``127.0.0.1``,
    ``10.20.0.0/16``, ``hooks.county.lan``), separated by commas: only these may be
    reached on loopback, private, link-local or other non-public addresses, and only
    these over plain ``http``.
    """

    webhook_allow: str = ""
    max_attempts: int = Field(12, ge=1, le=100, description="failed attempts before a delivery is dead")
    backoff_base_seconds: float = Field(10.0, gt=0, description="the wait after the first failure, doubled each time")
    backoff_max_seconds: float = Field(6 * 3600.0, gt=0)
    delivery_timeout_seconds: float = Field(10.0, gt=0, le=120)
    batch_size: int = Field(50, ge=1, le=1000, description="deliveries a worker claims at a time")
    poll_seconds: float = Field(2.0, gt=0, description="how often a worker looks for due deliveries")
    lease_seconds: float | None = Field(None, gt=0, description=(
        "how long a claimed delivery stays with its worker before another may send it again "
        "(after a crash, the restarted server); three delivery timeouts and 30 s when unset"
    ))

    @field_validator("webhook_allow")
    @classmethod
    def _entries_parse(cls, value: str) -> str:
        from tulou.exchange.webhook_urls import parse_allow_list  # the exchange builds on settings

        parse_allow_list(value)
        return value

    @field_validator("lease_seconds")
    @classmethod
    def _lease_outlasts_an_attempt(cls, value: float | None, info: ValidationInfo) -> float | None:
        timeout = info.data.get("delivery_timeout_seconds")
        if value is not None and timeout is not None and value <= timeout:
            raise ValueError("must be longer than TULOU_EXCHANGE__DELIVERY_TIMEOUT_SECONDS")
        return value

    @property
    def lease(self) -> float:
        """How long a claimed delivery stays with its worker before another may take it over."""
        return self.lease_seconds or self.delivery_timeout_seconds * 3 + 30


def decode_base64url(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional: operators paste keys made either way."""
    normalised = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    padded = normalised + "=" * (-len(normalised) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def parse_key(text: str) -> bytes:
    """A 32-byte key written as 64 hex digits or as base64."""
    text = text.strip()
    try:
        is_hex = len(text) == 64 and all(char in string.hexdigits for char in text)
        key = bytes.fromhex(text) if is_hex else decode_base64url(text)
    except ValueError:
        raise ValueError("is neither base64 nor hex") from None
    if len(key) != 32:
        raise ValueError(f"must be 32 bytes, not {len(key)}")
    return key


def parse_keyring(text: str) -> dict[str, bytes]:
    """``"id1:key1,id2:key2"`` to ``{"id1": b"...", "id2": b"..."}``."""
    ring: dict[str, bytes] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        key_id, separator, key = entry.partition(":")
        if not separator or not KEY_ID.fullmatch(key_id):
            raise ValueError(
                "each entry must be key-id:base64-key, "
                "the key id at most 32 letters, digits, - or _"
            )
        if key_id in ring:
            raise ValueError(f"key id {key_id} appears twice")
        try:
            ring[key_id] = parse_key(key)
        except ValueError as error:
            raise ValueError(f"key {key_id} {error}") from None
    if not ring:
        raise ValueError("names no key")
    return ring


class IdentitySettings(BaseModel):
    """Keys for personal data at rest (resident ID, phone).

    The encryption keys are a ring so that a new key can take over while values
    written under an old one still decrypt; the blind-index key makes exact lookup
    possible without decrypting. Either all are set or none: then personal data
    cannot be stored at all, rather than stored in clear.
    """

    model_config = ConfigDict(validate_default=True)

    encryption_keys: SecretStr | None = None
    active_key: str | None = None
    blind_index_key: SecretStr | None = None
    access_token_minutes: int = Field(15, ge=1, le=24 * 60, description="how long an account's access token lives")
    refresh_token_days: int = Field(30, ge=1, le=365, description="how long a refresh token lives unused")
    client_token_minutes: int = Field(15, ge=1, le=24 * 60, description="how long a system client's token lives")
    lockout_after_failures: int = Field(
        5, ge=1, le=100, description="wrong passwords in a row before sign-in is locked, doubling each time"
    )

    @field_validator("encryption_keys", "active_key", "blind_index_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("encryption_keys")
    @classmethod
    def _keyring_format(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_keyring(value.get_secret_value())
        return value

    @field_validator("active_key")
    @classmethod
    def _active_key_in_ring(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "encryption_keys" not in info.data:  # its own error is the one to report
            return value
        keys: SecretStr | None = info.data["encryption_keys"]
        ring = parse_keyring(keys.get_secret_value()) if keys else {}
        if value is None and len(ring) > 1:
            raise ValueError("must name the key to encrypt with when there are several")
        if value is None:
            return next(iter(ring), None)
        if value not in ring:
            raise ValueError("is not a key id in TULOU_IDENTITY__ENCRYPTION_KEYS")
        return value

    @field_validator("blind_index_key")
    @classmethod
    def _blind_index_key_with_the_ring(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is not None:
            parse_key(value.get_secret_value())
        if "encryption_keys" not in info.data:  # its own error is the one to report
            return value
        if (info.data["encryption_keys"] is None) != (value is None):
            raise ValueError(
                "set it together with TULOU_IDENTITY__ENCRYPTION_KEYS, or neither "
                "(tulou identity new-keys)"
            )
        return value

    @property
    def configured(self) -> bool:
        return self.encryption_keys is not None and self.blind_index_key is not None

    def keyring(self) -> dict[str, bytes]:
        """The encryption keys by id; empty when none are configured."""
        if self.encryption_keys is None:
            return {}
        return parse_keyring(self.encryption_keys.get_secret_value())

    def blind_index_secret(self) -> bytes | None:
        return parse_key(self.blind_index_key.get_secret_value()) if self.blind_index_key else None


class ConsoleSettings(BaseModel):
    """The admin console's sessions and how it shows times.

    A session ends after ``session_idle_minutes`` without a request, and in any case
    ``session_max_hours`` after sign-in. ``secure_cookies`` unset means the cookies are
    ``Secure`` when the request came over https; set it true behind a proxy that ends TLS.
    """

    session_idle_minutes: int = Field(30, ge=1, le=24 * 60, description="minutes without a request before sign-out")
    session_max_hours: int = Field(12, ge=1, le=30 * 24, description="hours after sign-in before signing in again")
    secure_cookies: bool | None = None
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone, such as Asia/Shanghai") from None
        return value


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
    plugins: Annotated[list[str] | None, NoDecode] = None
    disable_plugins: Annotated[list[str] | None, NoDecode] = None
    database: DatabaseSettings = DatabaseSettings()
    plugin_runtime: PluginRuntimeSettings = PluginRuntimeSettings()
    web: WebSettings = WebSettings()
    jobs: JobSettings = JobSettings()
    devices: DeviceSettings = DeviceSettings()
    identity: IdentitySettings = IdentitySettings()
    exchange: ExchangeSettings = ExchangeSettings()
    console: ConsoleSettings = ConsoleSettings()

    @field_validator("plugins", "disable_plugins", mode="before")
    @classmethod
    def _split_plugins(cls, value: Any) -> Any:
        return _split_names(value)

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


class RetiredSettings(BaseSettings):
    """Variables Tulou no longer reads, looked up where the live ones are so start-up can say so.

    Unknown variables are ignored, but a deployment still setting one of these
    expects it to work: each field's description says what to do instead.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    admin_token: str | None = Field(None, description=(
        "administrators are accounts now; create one with `tulou admin create NAME --generate`, "
        "sign in with POST /api/v1/auth/token and remove the variable"
    ))


def retired_settings_in_use() -> list[str]:
    """One line per retired variable that is still set, naming it and what to do instead."""
    found = RetiredSettings()
    return [
        f"{ENV_PREFIX}{name.upper()} is no longer read: {field.description}"
        for name, field in RetiredSettings.model_fields.items()
        if getattr(found, name)
    ]


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
        raise SettingsError(describe_validation_error(error, settings_class)) from None


def describe_validation_error(error: ValidationError, model: type[BaseModel] = CoreSettings) -> str:
    """Name the environment variable behind the first error, e.g. ``TULOU_WEB__WORKERS``.

    The bad value is shown too, except for secrets, which would end up in logs.
    """
    first = error.errors()[0]
    variable = ENV_PREFIX + "__".join(str(part) for part in first["loc"]).upper()
    if _is_secret(model, first["loc"]):
        return f"{variable}: {first['msg']}"
    return f"{variable}: {first['msg']} (got {first.get('input')!r})"


def _is_secret(model: type[BaseModel], location: tuple[int | str, ...]) -> bool:
    """Whether the field at ``location`` (``("identity", "blind_index_key")``) holds a secret."""
    for part in location:
        field = model.model_fields.get(str(part))
        if field is None:
            return False
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            continue
        return annotation is SecretStr or SecretStr in get_args(annotation)
    return False


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
