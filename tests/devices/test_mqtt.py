"""Telemetry over MQTT through a real Mosquitto with the dynamic-security plugin, set up as deploy/mosquitto/ says.

The broker authenticates each device as itself and lets it publish to its own topic
only; Tulou keeps the broker's accounts in step with the registry, checks on receipt
that the sender is active, stores readings durably before acknowledging them, and
keeps what it refused in the device's recent-errors list.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.conftest import ADMIN, SHIMEN_TOWN, AppClient
from tests.devices.conftest import bearer, register_device, send, staff_token
from tests.devices.test_ingest import raw_rows
from tests.devices.test_provisioning import claim, make_key
from tests.mqtt_broker import PASSWORD_KEY, Broker
from tulou.devices import mqtt as mqtt_module
from tulou.devices.broker import telemetry_topic
from tulou.devices.broker_accounts import BrokerControl
from tulou.devices.models import Device, DeviceStatus
from tulou.devices.mqtt_wire import Publication, SubscriberProtocol, pubacks, varint
from tulou.security.principal_cache import principals_changed

V5 = aiomqtt.ProtocolVersion.V5
DEVICES = "/api/v1/devices/"


@pytest.fixture
def mqtt_serve(serve: Callable[..., Any], broker: Broker, session_prefix: str) -> Callable[..., Any]:
    """``async with mqtt_serve() as client:`` an app reading the test broker, its accounts reconciled once."""
    prefix = session_prefix

    @asynccontextmanager
    async def running(**overrides: Any) -> AsyncIterator[AppClient]:
        async with serve(devices={"mqtt": broker.mqtt_settings(PASSWORD_KEY, prefix)}, **overrides) as client:
            runtime = client.app.state.devices
            await asyncio.wait_for(runtime.mqtt.connected.wait(), 10)
            await runtime.initial_reconcile
            yield client

    return running


@pytest.fixture
async def mqtt_client(mqtt_serve: Callable[..., Any]) -> AsyncIterator[AppClient]:
    async with mqtt_serve() as client:
        yield client


def link(broker: Broker, username: str, password: str, identifier: str | None = None) -> aiomqtt.Client:
    """A device's connection to the broker (not opened yet)."""
    return aiomqtt.Client(broker.host, broker.port, username=username, password=password,
                          identifier=identifier or username, protocol=V5, timeout=5)


@asynccontextmanager
async def device_link(broker: Broker, device: dict[str, Any]) -> AsyncIterator[aiomqtt.Client]:
    async with link(broker, device["id"], device["mqttPassword"]) as connection:
        yield connection


async def publish(connection: aiomqtt.Client, uid: str, body: Any) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    await connection.publish(telemetry_topic(uid), payload, qos=1)


async def eventually(check: Callable[[], Any], limit: float = 10.0) -> None:
    """Wait until ``await check()`` is true; fail after ``limit`` seconds."""
    deadline = asyncio.get_running_loop().time() + limit
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time limit"
        await asyncio.sleep(0.05)


async def rows_reach(uid: str, count: int) -> None:
    async def enough() -> bool:
        return await raw_rows(uid) >= count

    await eventually(enough)


async def refusals(client: AppClient, uid: str) -> dict[str, Any]:
    answer = await client.get(f"{DEVICES}{uid}/errors", headers={**ADMIN, "Accept-Language": "en"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def refused_count_reaches(client: AppClient, uid: str, count: int) -> dict[str, Any]:
    async def enough() -> bool:
        return (await refusals(client, uid))["refusedCount"] >= count

    await eventually(enough)
    return await refusals(client, uid)


async def cannot_connect(broker: Broker, username: str, password: str, identifier: str | None = None) -> bool:
    try:
        async with link(broker, username, password, identifier):
            return False
    except aiomqtt.MqttError:
        return True


async def as_broker_admin(broker: Broker, command: dict[str, Any]) -> dict[str, Any]:
    """One dynamic-security command sent with the broker's own admin account; its answer."""
    async with aiomqtt.Client(broker.host, broker.port, username="admin", password=broker.admin_password,
                              protocol=V5, timeout=5) as admin:
        await admin.subscribe("$CONTROL/dynamic-security/v1/response", qos=1)
        await admin.publish("$CONTROL/dynamic-security/v1", json.dumps({"commands": [command]}), qos=1)
        async for message in admin.messages:
            return json.loads(message.payload)["responses"][0]  # type: ignore[arg-type]
    raise AssertionError("no answer")


async def broker_client_of(broker: Broker, uid: str) -> dict[str, Any] | None:
    """The broker's dynamic-security client of a device."""
    return (await as_broker_admin(broker, {"command": "getClient", "username": uid})).get("data", {}).get("client")


# -- readings in --------------------------------------------------------------------------


async def test_readings_a_device_publishes_on_its_topic_are_stored(mqtt_client: AppClient, broker: Broker) -> None:
    device = await register_device(mqtt_client)
    assert device["mqttPassword"].startswith("tlm.")
    async with device_link(broker, device) as connection:
        await publish(connection, device["id"], {"t": "2025-06-01T08:00:00+08:00", "values": {"temperature": 21.5}})
        await publish(connection, device["id"], {"readings": [
            {"t": f"2025-06-01T0{n}:00:00Z", "values": {"battery": 90 - n, "charging": False}} for n in range(3)]})
    await rows_reach(device["id"], 1 + 6)
    latest = (await mqtt_client.get(f"{DEVICES}{device['id']}/telemetry/latest", headers=ADMIN)).json()
    assert latest["values"]["temperature"]["value"] == 21.5 and latest["values"]["battery"]["value"] == 88
    shown = (await mqtt_client.get(f"{DEVICES}{device['id']}", headers=ADMIN)).json()
    assert shown["connectionState"] == "online"
    assert (await refusals(mqtt_client, device["id"]))["refusedCount"] == 0


async def test_a_device_cannot_publish_as_another(mqtt_client: AppClient, broker: Broker) -> None:
    a = await register_device(mqtt_client, serial="SN-A")
    b = await register_device(mqtt_client, serial="SN-B")
    async with device_link(broker, a) as connection:
        await publish(connection, b["id"], {"values": {"temperature": -30}})  # the broker refuses it
        await publish(connection, a["id"], {"device": b["id"], "values": {"temperature": -31}})  # Tulou refuses it
        await publish(connection, a["id"], {"values": {"temperature": 20}})
    await rows_reach(a["id"], 1)
    found = await refused_count_reaches(mqtt_client, a["id"], 1)
    assert [e["reason"] for e in found["recent"]] == ["device_not_allowed"]
    assert await raw_rows(b["id"]) == 0 and await raw_rows(a["id"]) == 1
    assert await cannot_connect(broker, b["id"], a["mqttPassword"])  # A's password is not B's
    assert await cannot_connect(broker, a["id"], a["mqttPassword"], identifier=b["id"])  # nor B's client id
    assert await cannot_connect(broker, a["id"], a["token"])  # the HTTP token is not the broker password


async def test_refused_readings_are_counted_and_listed_and_the_rest_stored(mqtt_serve: Callable[..., Any],
                                                                          broker: Broker) -> None:
    async with mqtt_serve(default_locale="en") as client:  # refusals are kept in the server's language
        await refused_readings_are_counted_and_listed(client, broker)


async def refused_readings_are_counted_and_listed(mqtt_client: AppClient, broker: Broker) -> None:
    device = await register_device(mqtt_client)
    async with device_link(broker, device) as connection:
        await publish(connection, device["id"], {"readings": [
            {"values": {"temperature": 20.0}},
            {"values": {"temperature": 99.0, "moisture": -1}},  # two faults, one refused reading
            {"values": {"humidity": 50}},
        ]})
        await publish(connection, device["id"], b"{not json")
        await publish(connection, device["id"], {"values": {"temperature": 1.0}, "readings": []})
    found = await refused_count_reaches(mqtt_client, device["id"], 4)
    assert found["refusedCount"] == 4 and await raw_rows(device["id"]) == 1
    newest_first = [(e["transport"], e["reason"]) for e in found["recent"]]
    assert newest_first == [("mqtt", "bad_payload"), ("mqtt", "bad_payload"), ("mqtt", "unknown_property"),
                            ("mqtt", "above_maximum")]
    two_faults = found["recent"][-1]
    assert [p["property"] for p in two_faults["problems"]] == ["temperature", "moisture"]
    assert "above the maximum" in two_faults["message"] and "below the minimum" in two_faults["message"]
    other_township = await staff_token(mqtt_client, "shimen_staff", "township_staff", SHIMEN_TOWN)
    outside = await mqtt_client.get(f"{DEVICES}{device['id']}/errors", headers=bearer(other_township))
    assert outside.status_code == 404


async def test_a_batch_checks_each_device_at_once_and_names_faults_within_their_messages(
        mqtt_client: AppClient) -> None:
    device = await register_device(mqtt_client)
    topic, ok, bad = telemetry_topic(device["id"]), {"values": {"temperature": 20}}, {"values": {"temperature": 99}}
    checker = mqtt_client.app.state.devices.mqtt.checker
    outcome = await checker.check([
        Publication(topic, json.dumps({"readings": [ok, bad]}).encode(), 1, 1),
        Publication(topic, json.dumps({"readings": [bad, ok, ok]}).encode(), 1, 2),
        Publication(telemetry_topic("dev_zzzzzzzzzzzz"), json.dumps(ok).encode(), 1, 3),
    ])
    assert (outcome.accepted, len(outcome.rows), dict(outcome.unknown)) == (3, 3, {"dev_zzzzzzzzzzzz": 1})
    assert [(r.reason, [(p["index"], p["field"]) for p in r.problems]) for r in outcome.refusals] == [
        ("above_maximum", [(1, "readings[1].values.temperature")]),
        ("above_maximum", [(0, "readings[0].values.temperature")]),
    ]


async def test_only_the_newest_refusals_are_kept_but_all_are_counted(mqtt_client: AppClient, broker: Broker,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tulou.devices import device_errors

    monkeypatch.setattr(device_errors, "KEPT", 3)
    device = await register_device(mqtt_client)
    async with device_link(broker, device) as connection:
        for n in range(5):
            await publish(connection, device["id"], {"values": {"battery": 101 + n}})
    found = await refused_count_reaches(mqtt_client, device["id"], 5)
    assert found["refusedCount"] == 5
    assert [e["message"].split()[0] for e in found["recent"]] == ["105", "104", "103"]  # "105 高于上限 100"


# -- revocation ----------------------------------------------------------------------------


async def test_a_rekey_stops_the_old_broker_password_at_once(mqtt_client: AppClient, broker: Broker) -> None:
    device = await register_device(mqtt_client)
    async with device_link(broker, device) as connection:
        rotated = await mqtt_client.post(f"{DEVICES}{device['id']}/token", headers=ADMIN)
        assert rotated.status_code == 200
        with pytest.raises(aiomqtt.MqttError):  # the open session was closed by the broker
            for _ in range(50):
                await publish(connection, device["id"], {"values": {"temperature": 20}})
                await asyncio.sleep(0.02)
    new = rotated.json()
    assert new["mqttPassword"] != device["mqttPassword"]
    assert await cannot_connect(broker, device["id"], device["mqttPassword"])
    async with device_link(broker, new) as connection:
        await publish(connection, device["id"], {"values": {"temperature": 20}})
    assert (await send(mqtt_client, device["token"], {"values": {"temperature": 20}})).status_code == 401


async def test_a_claimed_device_gets_a_broker_account_and_a_claim_again_rekeys_it(mqtt_client: AppClient,
                                                                                  broker: Broker) -> None:
    key = (await make_key(mqtt_client))["key"]
    first = (await claim(mqtt_client, key, "SN-FIELD-1")).json()
    async with device_link(broker, first):
        pass
    again = (await claim(mqtt_client, key, "SN-FIELD-1")).json()  # the installer lost the first answer
    assert again["id"] == first["id"] and again["mqttPassword"] != first["mqttPassword"]
    assert await cannot_connect(broker, first["id"], first["mqttPassword"])
    async with device_link(broker, again) as connection:
        await publish(connection, again["id"], {"values": {"temperature": 20}})
    await rows_reach(again["id"], 1)


async def test_a_rekey_the_broker_cannot_take_does_not_happen(mqtt_client: AppClient, broker: Broker) -> None:
    device = await register_device(mqtt_client)
    try:
        await as_broker_admin(broker, {"command": "disableClient", "username": "tulou"})
        refused = await mqtt_client.post(f"{DEVICES}{device['id']}/token", headers=ADMIN)
    finally:
        await as_broker_admin(broker, {"command": "enableClient", "username": "tulou"})
    assert refused.status_code == 503
    assert (await send(mqtt_client, device["token"], {"values": {"temperature": 20}})).status_code == 200
    async with device_link(broker, device):  # the old broker password still works too: nothing changed
        pass


async def test_disabling_and_decommissioning_close_the_broker_account(mqtt_client: AppClient,
                                                                      broker: Broker) -> None:
    device = await register_device(mqtt_client)
    uid, password = device["id"], device["mqttPassword"]
    await mqtt_client.post(f"{DEVICES}{uid}/disable", headers=ADMIN)
    assert await cannot_connect(broker, uid, password)
    await mqtt_client.post(f"{DEVICES}{uid}/enable", headers=ADMIN)
    async with device_link(broker, device):
        pass
    await mqtt_client.post(f"{DEVICES}{uid}/decommission", headers=ADMIN)
    assert await broker_client_of(broker, uid) is None
    assert await cannot_connect(broker, uid, password)


async def test_readings_of_a_device_revoked_before_the_broker_heard_are_refused(mqtt_client: AppClient,
                                                                               broker: Broker) -> None:
    """The registry is checked on receipt: a revocation the broker has not applied yet still holds."""
    device = await register_device(mqtt_client)
    async with device_link(broker, device) as connection:
        await Device.filter(uid=device["id"]).update(status=DeviceStatus.DISABLED)  # as if the broker lagged
        await principals_changed()
        await publish(connection, device["id"], {"values": {"temperature": 20}})
        found = await refused_count_reaches(mqtt_client, device["id"], 1)
    assert [e["reason"] for e in found["recent"]] == ["device_inactive"]
    assert await raw_rows(device["id"]) == 0


async def test_the_reconcile_mends_accounts_the_broker_lost_or_should_not_have(mqtt_client: AppClient,
                                                                               broker: Broker) -> None:
    kept = await register_device(mqtt_client, serial="SN-KEPT")
    disabled = await register_device(mqtt_client, serial="SN-OFF")
    settings = mqtt_client.app.state.devices.settings.mqtt
    async with BrokerControl(settings) as control:  # the broker lost one account, kept a stale one, missed a change
        await control.run([{"command": "deleteClient", "username": kept["id"]},
                           {"command": "createClient", "username": "dev_aaaaaaaaaaaa", "password": "x"}])
    await Device.filter(uid=disabled["id"]).update(status=DeviceStatus.DISABLED)
    assert await mqtt_client.app.state.devices.accounts.reconcile() > 0
    async with device_link(broker, kept):
        pass
    assert (await broker_client_of(broker, disabled["id"]) or {}).get("disabled") is True
    assert await broker_client_of(broker, "dev_aaaaaaaaaaaa") is None
    assert await mqtt_client.app.state.devices.accounts.reconcile() == 0  # in step: nothing more to do


# -- durability ----------------------------------------------------------------------------


async def test_a_reading_is_acknowledged_only_once_stored(mqtt_serve: Callable[..., Any], broker: Broker,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """While the database refuses writes nothing is acknowledged: a server stopped then leaves the message
    with the broker, which sends it again to the server that takes its place."""
    monkeypatch.setattr(mqtt_module, "DRAIN_SECONDS", 0.5)
    async with mqtt_serve() as client:
        device = await register_device(client)
        store = client.app.state.devices.store
        attempts: list[int] = []

        async def failing_write(*_args: Any) -> Any:
            attempts.append(1)
            raise ConnectionError("the database is down")

        monkeypatch.setattr(store, "write", failing_write)
        async with device_link(broker, device) as connection:
            await publish(connection, device["id"], {"values": {"temperature": 20}})
        await eventually(lambda: asyncio.sleep(0, result=len(attempts) >= 2))
        assert await raw_rows(device["id"]) == 0
    async with mqtt_serve():  # its store is another, which works
        await rows_reach(device["id"], 1)


async def test_readings_sent_while_tulou_was_cut_off_are_stored_once_it_is_back(mqtt_client: AppClient,
                                                                                 broker: Broker) -> None:
    """The broker keeps Tulou's session and queues for it; Tulou connects again by itself."""
    device = await register_device(mqtt_client)
    ingest = mqtt_client.app.state.devices.mqtt
    try:
        await as_broker_admin(broker, {"command": "disableClient", "username": "tulou"})  # closes its connection
        await eventually(lambda: asyncio.sleep(0, result=not ingest.connected.is_set()))
        assert (await mqtt_client.get("/readyz")).json()["checks"]["mqtt"] == "not connected"
        async with device_link(broker, device) as connection:
            await publish(connection, device["id"], {"values": {"temperature": 20}})
    finally:
        await as_broker_admin(broker, {"command": "enableClient", "username": "tulou"})
    await rows_reach(device["id"], 1)
    assert ingest.connected.is_set()


async def test_a_message_that_breaks_the_check_holds_back_no_other(mqtt_client: AppClient, broker: Broker,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Not the database but a fault no retry mends: that message is logged and left out, the rest stored."""
    from tulou.devices import mqtt_readings

    async def check_sent(readings: list[Any], *args: Any) -> Any:
        if any(reading.values.get("temperature") == -39.5 for reading in readings):
            raise ValueError("a fault of ours")
        return await real_check(readings, *args)

    real_check = mqtt_readings.check_sent
    monkeypatch.setattr(mqtt_readings, "check_sent", check_sent)
    device = await register_device(mqtt_client)
    async with device_link(broker, device) as connection:
        for temperature in (20, -39.5, 21):
            await publish(connection, device["id"], {"values": {"temperature": temperature}})
    await rows_reach(device["id"], 2)
    await eventually(lambda: asyncio.sleep(0, result="could not be checked and is dropped" in caplog.text))


def test_acknowledgements_follow_arrival_order() -> None:
    sent: list[list[int]] = []
    window = mqtt_module.AckWindow(sent.append)
    first = window.hold([Publication("t", b"", 1, 1), Publication("t", b"", 0, 0)])
    second = window.hold([Publication("t", b"", 1, 2)])
    window.release(second)
    assert sent == []  # stored, but an earlier message is not yet
    window.release(first)
    assert sent == [[1, 2]]  # in one write; the QoS 0 message needs no acknowledgement
    third = window.hold([Publication("t", b"", 1, 3)])
    window.close()
    window.release(third)
    assert sent == [[1, 2]] and len(window) == 0


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """A QoS 1 PUBLISH as a broker sends it, with one property (a message expiry) to skip."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + packet_id.to_bytes(2, "big") + b"\x05\x02\x00\x00\x00\x3c"
    return b"\x32" + varint(len(body + payload)) + body + payload


async def test_the_reader_takes_whole_packets_however_the_stream_is_cut() -> None:
    stream = publish_packet("a/1", b"{}", 7) + b"\xd0\x00" + publish_packet("b/2", b"x" * 300, 8)  # 300: 2-byte length
    expected = [Publication("a/1", b"{}", 1, 7), Publication("b/2", b"x" * 300, 1, 8)]
    for cut in range(len(stream) + 1):
        got: list[list[Publication]] = []
        reader = SubscriberProtocol(got.append)
        reader.data_received(stream[:cut])
        reader.data_received(stream[cut:])
        assert [p for read in got for p in read] == expected, cut
        assert not reader.closed.done()
    assert pubacks([7, 8]) == b"\x40\x02\x00\x07\x40\x02\x00\x08"


def test_each_process_takes_a_session_slot_of_its_own(tmp_path: Path) -> None:
    first = mqtt_module.SessionSlot(tmp_path, "tulou-h")
    second = mqtt_module.SessionSlot(tmp_path, "tulou-h")
    assert (first.client_id, second.client_id) == ("tulou-h-0", "tulou-h-1")
    first.release()
    assert mqtt_module.SessionSlot(tmp_path, "tulou-h").client_id == "tulou-h-0"  # a successor resumes its session


# -- without a broker ------------------------------------------------------------------------


async def test_without_a_broker_devices_get_no_broker_password(client: AppClient) -> None:
    device = await register_device(client)
    assert device["mqttPassword"] is None
    ready = (await client.get("/readyz")).json()
    assert "mqtt" not in ready["checks"]


async def test_readyz_tells_whether_the_broker_is_connected(mqtt_client: AppClient) -> None:
    assert (await mqtt_client.get("/readyz")).json()["checks"]["mqtt"] == "ok"
