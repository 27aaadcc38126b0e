"""The county's MQTT broker: how Tulou reaches it, and the topic each device publishes its telemetry to.

Device ``dev_x`` publishes to ``tulou/v1/devices/dev_x/telemetry``. Tulou reads every
device's topic through the shared subscription ``$share/tulou/tulou/v1/devices/+/telemetry``,
so that several server processes split the messages between them rather than each
storing every reading. Tulou speaks MQTT 5, for the session expiry and the receive
maximum that bound what the broker keeps for it and sends it unacknowledged.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from tulou.settings import MqttSettings

TOPIC_ROOT = "tulou/v1/devices/"
TOPIC_LEAF = "/telemetry"
SHARE_GROUP = "tulou"
TELEMETRY_FILTER = f"{TOPIC_ROOT}+{TOPIC_LEAF}"
SHARED_TELEMETRY = f"$share/{SHARE_GROUP}/{TELEMETRY_FILTER}"


def telemetry_topic(uid: str) -> str:
    return f"{TOPIC_ROOT}{uid}{TOPIC_LEAF}"


def device_of(topic: str) -> str | None:
    """The device id a telemetry topic names, or None for any other topic."""
    if topic.startswith(TOPIC_ROOT) and topic.endswith(TOPIC_LEAF):
        uid = topic[len(TOPIC_ROOT):-len(TOPIC_LEAF)]
        if uid and "/" not in uid:
            return uid
    return None


def session_prefix(settings: MqttSettings) -> str:
    """The start of this host's client ids: the setting, or ``tulou-<hostname>``."""
    return settings.client_id_prefix or f"tulou-{socket.gethostname()}"


def broker_address(settings: MqttSettings) -> tuple[str, int, ssl.SSLContext | None]:
    """Host, port and TLS context (for ``mqtts://``) of the configured broker."""
    parts = urlsplit(settings.url)
    secure = parts.scheme == "mqtts"
    context = ssl.create_default_context(cafile=settings.ca_file) if secure else None
    return parts.hostname or "127.0.0.1", parts.port or (8883 if secure else 1883), context


def broker_client(settings: MqttSettings, identifier: str, **options: Any) -> aiomqtt.Client:
    """An aiomqtt client of Tulou's own account on the configured broker (not connected yet)."""
    host, port, context = broker_address(settings)
    password = settings.password.get_secret_value() if settings.password is not None else None
    return aiomqtt.Client(host, port, username=settings.username, password=password, identifier=identifier,
                          protocol=aiomqtt.ProtocolVersion.V5, tls_context=context, **options)
