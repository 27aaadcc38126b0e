"""Devices' accounts on the broker, kept in step with the registry through Mosquitto's dynamic-security plugin.

The broker authenticates devices. Each has a dynamic-security client whose user name
and client id are the device id, and a role of its own (named the same) that lets it
publish to its own telemetry topic and nothing else: one device cannot publish as
another, nor take over another's or Tulou's session. (Mosquitto 2.0's plugin has no
``%u`` in ACL topics, hence a role per device.)

Why a derived password: Tulou keeps only the SHA-256 of a device token, so it could
not give the broker the token again after the moment it was made, say to rebuild a
restored broker's accounts. The broker password is HMAC-SHA256(``password_key``, the
token's digest) instead: new with every token, computable whenever needed, useless
to whoever reads the database without the key.

When: a re-key sets the new password before the registry stores it; if the broker
cannot take it, the re-key fails and nothing changes, since the old password must
not live on. Every change is also sent after its commit, and if the broker cannot be
reached then, :meth:`BrokerAccounts.reconcile` (at start and as a job) catches up,
while the ingest checks on receipt that the sender is active. Only clients and roles
named like device ids are ever touched.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt

from tulou.devices.broker import broker_client, session_prefix, telemetry_topic
from tulou.devices.models import Device, DeviceStatus
from tulou.errors import Unavailable
from tulou.i18n import gettext as _
from tulou.plugins.manager import describe_error
from tulou.settings import MqttSettings, parse_key

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
ANSWER_TOPIC = f"{CONTROL_TOPIC}/response"
ANSWER_SECONDS = 10.0
COMMANDS_PER_MESSAGE = 100
PASSWORD_PREFIX = "tlm."
DEVICE_ACCOUNT = re.compile(r"dev_[a-z2-7]{12}")
#: Answers that mean the broker is already as asked.
ALREADY = frozenset({"Role already exists", "Client not found", "Role not found"})


class BrokerError(Exception):
    """The broker could not be reached, did not answer, or refused a command."""


def mqtt_password(key: bytes, token_digest: str) -> str:
    """The broker password of the device whose token has this SHA-256 digest."""
    mac = hmac.new(key, b"tulou mqtt password\x00" + token_digest.encode(), hashlib.sha256).digest()
    return PASSWORD_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def password_mark(password: str) -> str:
    """What the broker account's text name carries, so a look at the broker tells a stale password."""
    return "tulou " + hashlib.sha256(password.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Account:
    """What a device's broker account should be."""

    uid: str
    password: str
    disabled: bool


def role_commands(uid: str) -> list[dict[str, Any]]:
    acl = {"acltype": "publishClientSend", "topic": telemetry_topic(uid), "allow": True}
    return [{"command": "createRole", "rolename": uid, "acls": [acl]}]


def account_commands(current: dict[str, Any] | None, wanted: Account, role_exists: bool | None) -> list[dict]:
    """The commands that turn the broker's client ``current`` (None: absent) into ``wanted``.

    Only differences are sent, as modifying a client disconnects it. ``role_exists``
    None means unknown: the role is then created unless it is there.
    """
    commands = [] if role_exists else role_commands(wanted.uid)
    shape = {"clientid": wanted.uid, "textname": password_mark(wanted.password), "roles": [{"rolename": wanted.uid}]}
    if current is None:
        commands.append({"command": "createClient", "username": wanted.uid, "password": wanted.password, **shape})
    elif (current.get("clientid"), current.get("textname"), [r.get("rolename") for r in current.get("roles", [])]) \
            != (wanted.uid, shape["textname"], [wanted.uid]):
        commands.append({"command": "modifyClient", "username": wanted.uid, "password": wanted.password, **shape})
    if wanted.disabled != bool(current and current.get("disabled")):
        commands.append({"command": "disableClient" if wanted.disabled else "enableClient", "username": wanted.uid})
    return commands


def removal_commands(uid: str, client_exists: bool, role_exists: bool | None) -> list[dict[str, Any]]:
    """The commands that remove a device's client and role, as far as they exist (None: unknown)."""
    client = [{"command": "deleteClient", "username": uid}] if client_exists else []
    return client + ([{"command": "deleteRole", "rolename": uid}] if role_exists is not False else [])


class BrokerControl:
    """One short connection with Tulou's account, sending dynamic-security commands and awaiting their answers."""

    def __init__(self, settings: MqttSettings) -> None:
        identifier = f"{session_prefix(settings)}-control-{uuid.uuid4().hex[:8]}"
        self._client = broker_client(settings, identifier, timeout=ANSWER_SECONDS)

    async def __aenter__(self) -> BrokerControl:
        try:
            await self._client.__aenter__()
            await self._client.subscribe(ANSWER_TOPIC, qos=1)
        except aiomqtt.MqttError as error:
            raise BrokerError(f"cannot reach the broker: {error}") from None
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        try:
            await self._client.__aexit__(kind, error, trace)
        except aiomqtt.MqttError:
            pass  # the connection is gone already

    async def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each command's answer; :class:`BrokerError` for any refusal except being already as asked."""
        answers: list[dict[str, Any]] = []
        for start in range(0, len(commands), COMMANDS_PER_MESSAGE):
            answers += await self._send(commands[start:start + COMMANDS_PER_MESSAGE])
        refused = [f"{a.get('command')}: {a['error']}" for a in answers if a.get("error") and a["error"] not in ALREADY]
        if refused:
            raise BrokerError("the broker refused " + "; ".join(refused))
        return answers

    async def _send(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tag = uuid.uuid4().hex
        tagged = [{**command, "correlationData": f"{tag}:{n}"} for n, command in enumerate(commands)]
        try:
            await self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
            async with asyncio.timeout(ANSWER_SECONDS):
                async for message in self._client.messages:
                    answers = json.loads(message.payload).get("responses", [])  # type: ignore[arg-type]
                    if answers and str(answers[0].get("correlationData", "")).startswith(tag):
                        return answers
        except (aiomqtt.MqttError, TimeoutError) as error:
            raise BrokerError(f"no answer from the broker: {describe_error(error)}") from None
        raise BrokerError("the broker closed the connection")


class BrokerAccounts:
    """Devices' broker accounts, for one app: the password a device is told, and each change sent on."""

    def __init__(self, settings: MqttSettings) -> None:
        assert settings.password_key is not None  # the settings require it with a URL
        self.settings = settings
        self._key = parse_key(settings.password_key.get_secret_value())

    def password(self, token_digest: str) -> str:
        return mqtt_password(self._key, token_digest)

    def account(self, uid: str, status: DeviceStatus, token_digest: str) -> Account | None:
        if status is DeviceStatus.DECOMMISSIONED:
            return None
        return Account(uid, self.password(token_digest), disabled=status is DeviceStatus.DISABLED)

    async def put(self, uid: str, status: DeviceStatus, token_digest: str) -> None:
        """Make the device's account what the registry says; :class:`BrokerError` if the broker did not."""
        async with BrokerControl(self.settings) as control:
            found = (await control.run([{"command": "getClient", "username": uid}]))[0]
            current = found.get("data", {}).get("client")
            wanted = self.account(uid, status, token_digest)
            commands = (account_commands(current, wanted, None) if wanted is not None
                        else removal_commands(uid, current is not None, None))
            if commands:
                await control.run(commands)

    async def rekeyed(self, uid: str, status: DeviceStatus, token_digest: str) -> None:
        """Before a re-key is stored: the new password, or 503 so that the re-key does not happen."""
        try:
            await self.put(uid, status, token_digest)
        except BrokerError as error:
            log.error("broker account of %s not re-keyed: %s", uid, error)
            raise Unavailable(_("The MQTT broker cannot take the device's new password now; retry later")) from None

    async def changed(self, uid: str, status: DeviceStatus, token_digest: str) -> None:
        """After a change commits: send it on, or leave it to :meth:`reconcile`."""
        try:
            await self.put(uid, status, token_digest)
        except BrokerError as error:
            log.warning("broker account of %s left for the next reconcile: %s", uid, error)

    async def reconcile(self) -> int:
        """Bring every device account on the broker in step with the registry; the commands it took."""
        async with BrokerControl(self.settings) as control:
            listed = await control.run([{"command": "listClients", "verbose": True},
                                        {"command": "listRoles", "verbose": False}])
            clients = {c["username"]: c for c in listed[0].get("data", {}).get("clients", [])
                       if DEVICE_ACCOUNT.fullmatch(c.get("username", ""))}
            roles = {r for r in listed[1].get("data", {}).get("roles", []) if DEVICE_ACCOUNT.fullmatch(str(r))}
            commands: list[dict[str, Any]] = []
            for uid, status, digest in await Device.all().values_list("uid", "status", "token_hash"):
                wanted = self.account(uid, DeviceStatus(status), digest)
                current, has_role = clients.pop(uid, None), uid in roles
                roles.discard(uid)
                commands += (account_commands(current, wanted, has_role) if wanted is not None
                             else removal_commands(uid, current is not None, has_role))
            for uid in sorted(set(clients) | roles):  # accounts of devices the registry does not know
                commands += removal_commands(uid, uid in clients, uid in roles)
            if commands:
                await control.run(commands)
        return len(commands)
