"""MQTT ingest benchmark: readings published through Mosquitto, one per message, into PostgreSQL,
against HTTP batches of the same readings into the same server, in the same run.

1. A Mosquitto broker of the benchmark's own with the dynamic-security plugin, set up as
   ``deploy/mosquitto/`` says (``tests/mqtt_broker.py``).
2. ``tulou serve`` on a fresh PostgreSQL database, reading that broker; the devices are
   registered over HTTP, so their broker accounts are the ones Tulou made.
3. MQTT: one ``mosquitto_pub -l -q 1`` per device, each publishing its readings as one
   message each on its own topic. Tulou acknowledges a message only once its reading is
   committed; the rate runs from the first publish to the last reading committed.
4. HTTP batch: ``POST /api/v1/telemetry`` with 500 readings per request, loaded by ``wrk``
   (as ``telemetry.py`` does), readings/s acknowledged.

Goal: MQTT >= 15,000 readings/s; its ratio to HTTP batch is reported. A reading has the
same ten values in both.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from run import DURATION, TULOU, free_port, server, sign_in, wait_ready
from telemetry import (
    PG_URL, PROPERTIES, READINGS_PER_REQUEST, START, pg_admin, postgres_available, prepare, register, request_body,
    wrk_ingest,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for tests.mqtt_broker
from tests.mqtt_broker import PASSWORD_KEY, Broker, mosquitto_broker  # noqa: E402

DEVICES = 8
MESSAGES_PER_DEVICE = 10_000  # all of them fit the broker's queue for Tulou (max_queued_messages)
GOAL = 15_000
DEADLINE_SECONDS = 180


def message_lines(device: int) -> bytes:
    """One reading per line, ten values each, a second apart."""
    return b"".join(json.dumps({
        "t": (START + timedelta(seconds=n)).isoformat(),
        "values": {p: 20.0 + (n % 97) / 10 + i + device for i, p in enumerate(PROPERTIES)},
    }, separators=(",", ":")).encode() + b"\n" for n in range(MESSAGES_PER_DEVICE))


def mqtt_environment(env: dict[str, str], broker: Broker) -> dict[str, str]:
    return {
        **env, "TULOU_DEVICES__MQTT__URL": broker.url, "TULOU_DEVICES__MQTT__USERNAME": "tulou",
        "TULOU_DEVICES__MQTT__PASSWORD": broker.tulou_password, "TULOU_DEVICES__MQTT__PASSWORD_KEY": PASSWORD_KEY,
        "TULOU_DEVICES__MQTT__CLIENT_ID_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
    }


async def stored_readings(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval("SELECT count(*) FROM core_telemetry") // len(PROPERTIES)
    finally:
        await connection.close()


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user and system) of a process and its children, as /proc counts it."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(stat.parent.name) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def publish_and_wait(broker: Broker, devices: list[dict], workdir: Path, driver_url: str) -> tuple[float, int]:
    """Readings/s from the first publish to the last reading committed, and the readings stored."""
    files = []
    for index, device in enumerate(devices):
        path = workdir / f"{device['id']}.lines"
        path.write_bytes(message_lines(index))
        files.append(path)
    expected = len(devices) * MESSAGES_PER_DEVICE
    started = time.perf_counter()
    publishers = [subprocess.Popen(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-u", device["id"], "-P", device["mqttPassword"],
         "-i", device["id"], "-t", f"tulou/v1/devices/{device['id']}/telemetry", "-q", "1", "-M", "100", "-l"],
        stdin=path.open("rb"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    ) for device, path in zip(devices, files)]
    stored, finished = 0, started
    while time.perf_counter() - started < DEADLINE_SECONDS:
        stored = asyncio.run(stored_readings(driver_url))
        finished = time.perf_counter()
        if stored >= expected:
            break
        time.sleep(0.05)
    for publisher in publishers:
        if publisher.wait(timeout=60) != 0:
            raise RuntimeError(f"mosquitto_pub failed: {publisher.stderr.read().decode() if publisher.stderr else ''}")
    if stored < expected:
        raise RuntimeError(f"only {stored:,} of {expected:,} readings stored after {DEADLINE_SECONDS} s")
    return stored / (finished - started), stored


def wait_subscribed(base: str, limit: float = 30.0) -> None:
    """Until /readyz says the answering worker reads the broker, and a moment for the others to."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
            if json.load(response)["checks"].get("mqtt") == "ok":
                time.sleep(0.5)
                return
        time.sleep(0.1)
    raise RuntimeError("no server process connected to the broker")


@dataclass
class Measured:
    mqtt: float  # readings/s
    stored: int
    http: float  # readings/s
    mqtt_cpu: float  # the server's CPU microseconds per reading
    http_cpu: float


def measure(broker: Broker, database_url: str, workdir: Path, workers: int) -> Measured:
    """MQTT and HTTP batch ingest into one fresh database, with the server's CPU time per reading of each."""
    env, password = prepare(workdir, database_url)
    env = mqtt_environment(env, broker)
    body = workdir / "batch.json"
    body.write_bytes(request_body())
    driver_url = urlunsplit(urlsplit(database_url)._replace(scheme="postgresql"))
    port = free_port()
    with server([TULOU, "serve", "--port", str(port), "--workers", str(workers)], env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz")
        devices = register(base, sign_in(base, password), DEVICES)
        wait_subscribed(base)
        cpu = tree_cpu_seconds(process.pid)
        mqtt, stored = publish_and_wait(broker, devices, workdir, driver_url)
        cpu, mqtt_cpu = tree_cpu_seconds(process.pid), tree_cpu_seconds(process.pid) - cpu
        http = wrk_ingest(base, [d["token"] for d in devices], body, workdir) * READINGS_PER_REQUEST
        http_cpu = tree_cpu_seconds(process.pid) - cpu
        http_readings = asyncio.run(stored_readings(driver_url)) - stored
    return Measured(mqtt, stored, http, mqtt_cpu / stored * 1e6, http_cpu / http_readings * 1e6)


LOAD_BEFORE = " ".join(f"{load:.1f}" for load in os.getloadavg())


def main() -> int:
    if not postgres_available():
        print(f"MQTT benchmark: PostgreSQL not reachable (set BENCH_PG_URL; tried {PG_URL})")
        return 1
    results: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as directory, mosquitto_broker(Path(directory) / "broker") as broker:
        for workers in (1, 2):
            name = f"tulou_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
            try:
                workdir = Path(directory) / f"mqtt{workers}"
                workdir.mkdir()
                url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
                found = measure(broker, url, workdir, workers)
            finally:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            results.append((f"MQTT, one reading per message, QoS 1, {workers} worker(s)",
                            f"{found.mqtt:,.0f} readings/s",
                            f"goal >= {GOAL:,}: {'met' if found.mqtt >= GOAL else 'NOT met'}; {found.stored:,} stored; "
                            f"server CPU {found.mqtt_cpu:.0f} us/reading"))
            results.append((f"HTTP batch of {READINGS_PER_REQUEST}, {workers} worker(s)", f"{found.http:,.0f} readings/s",
                            f"MQTT is {found.mqtt / found.http:.2f} of it; server CPU {found.http_cpu:.0f} us/reading"))
    width = max(len(name) for name, _, _ in results)
    print(f"\nMQTT telemetry into PostgreSQL: {DEVICES} devices x {MESSAGES_PER_DEVICE:,} messages of one reading "
          f"({len(PROPERTIES)} values) through Mosquitto; HTTP with wrk, 32 connections, {DURATION}")
    print(f"load average before: {LOAD_BEFORE}; other processes share the 2 cores, the CPU times do not depend on them")
    print(f"{'benchmark':<{width}}  {'measured':>18}  ratio")
    for name, measured, ratio in results:
        print(f"{name:<{width}}  {measured:>18}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
