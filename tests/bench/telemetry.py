"""Telemetry ingest benchmark: HTTP batches through ``tulou serve`` against raw inserts of the same rows, same run.

For each database (SQLite always; PostgreSQL when ``BENCH_PG_URL``, or the test
server at 127.0.0.1:5432, answers):

1. the baseline: the rows of the HTTP requests, written straight into the raw
   telemetry table by the driver in batches of one request's rows, each batch its
   own transaction (asyncpg ``copy_records_to_table`` on PostgreSQL, ``executemany``
   on SQLite);
2. ``POST /api/v1/telemetry`` through a real server with device tokens, model
   validation, group commit and durable acknowledgement, loaded by ``wrk``;
3. the ratio of (2) to (1), against the issue's goals: 0.1 on PostgreSQL, 0.2 on SQLite.

A data point is one property value of one reading, one row of the raw table.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from run import ADMIN, DURATION, TULOU, free_port, server, sign_in, wait_ready, wrk

VILLAGE = "350899100201"
MODEL = "bench.sensor10"
PROPERTIES = [f"p{n}" for n in range(10)]
READINGS_PER_REQUEST = 500
ROWS_PER_REQUEST = READINGS_PER_REQUEST * len(PROPERTIES)
DEVICES = 8
BASELINE_BATCHES = 200
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
START = datetime(2025, 6, 1, tzinfo=timezone.utc)


def api(base: str, method: str, path: str, token: str, body: object | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def reading_times() -> list[datetime]:
    return [START + timedelta(seconds=n) for n in range(READINGS_PER_REQUEST)]


def request_body() -> bytes:
    """One batch: 500 readings of 10 numbers each, 5,000 data points."""
    readings = [{"t": t.isoformat(), "values": {p: 20.0 + (n % 97) / 10 + i for i, p in enumerate(PROPERTIES)}}
                for n, t in enumerate(reading_times())]
    return json.dumps({"readings": readings}).encode()


def prepare(workdir: Path, database_url: str) -> tuple[dict[str, str], str]:
    """Migrate a fresh database, load the demo county, create an administrator; the environment and password."""
    env = {
        **os.environ, "TULOU_DATA_DIR": str(workdir / "data"), "TULOU_LOG_LEVEL": "WARNING",
        "TULOU_JOBS__ENABLED": "false", "TULOU_DATABASE__URL": database_url, "TULOU_WEB__MAX_BODY_BYTES": "4194304",
    }
    for command in (["migrate"], ["demo"]):
        subprocess.run([TULOU, *command], env=env, check=True, stdout=subprocess.DEVNULL, cwd=workdir)
    password = secrets.token_urlsafe(18)
    subprocess.run([TULOU, "admin", "create", ADMIN, "--password-stdin"], env=env, check=True, input=password,
                   text=True, stdout=subprocess.DEVNULL, cwd=workdir)
    return env, password


def register(base: str, staff: str, devices: int = DEVICES) -> list[dict]:
    """The benchmark's model and devices; the answers that made the devices (ids, tokens, broker passwords)."""
    telemetry = {p: {"type": "number", "unit": "CEL", "minimum": -100, "maximum": 1000} for p in PROPERTIES}
    api(base, "POST", "/api/v1/device-models/", staff, {
        "id": MODEL, "category": "sensor", "manufacturerName": "Bench", "modelName": "Ten", "telemetry": telemetry,
    })
    return [api(base, "POST", "/api/v1/devices/", staff, {
        "model": MODEL, "serialNumber": f"BENCH-{n}", "name": f"bench {n}", "area": VILLAGE,
    }) for n in range(devices)]


def wrk_ingest(base: str, tokens: list[str], body_path: Path, workdir: Path) -> float:
    """Requests/s of POST /api/v1/telemetry, the devices' tokens taken in turn; every answer must be 2xx."""
    script = workdir / "ingest.lua"
    script.write_text(
        f'local tokens = {{{", ".join(json.dumps(t) for t in tokens)}}}\n'
        f'local body = io.open("{body_path}"):read("*a")\n'
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        '  local headers = {["Content-Type"] = "application/json",'
        ' ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1]}\n'
        '  return wrk.format("POST", "/api/v1/telemetry", headers, body)\n'
        "end\n"
    )
    return wrk(base, script=script)


def baseline_rows(device_ids: list[int], property_ids: list[int], encode: object) -> list[list[tuple]]:
    """The rows of BASELINE_BATCHES requests, as the raw table keeps them, one list per request."""
    times = [encode(t) for t in reading_times()]  # type: ignore[operator]
    batches = []
    for batch in range(BASELINE_BATCHES):
        device = device_ids[batch % len(device_ids)]
        batches.append([(device, pid, ts, 20.0 + (n % 97) / 10 + i, None)
                        for n, ts in enumerate(times) for i, pid in enumerate(property_ids)])
    return batches


COLUMNS = ("device_id", "property_id", "ts", "value", "text_value")


async def pg_baseline(url: str) -> tuple[float, float, float]:
    """Rows/s of COPY into the raw table: one transaction per request-sized batch, then all rows in one,
    then all rows into a table of the same columns without indexes (what the issue's 2.4M rows/s measured).

    The raw table is emptied after each, so the HTTP run starts from an empty table too.
    """
    connection = await asyncpg.connect(url)
    try:
        devices = [r["id"] for r in await connection.fetch("SELECT id FROM core_device ORDER BY id")]
        properties = [r["id"] for r in await connection.fetch(
            "SELECT id FROM core_telemetry_property WHERE name = ANY($1::text[]) ORDER BY id", PROPERTIES)]
        batches = baseline_rows(devices, properties, lambda t: t)
        started = time.perf_counter()
        for rows in batches:
            async with connection.transaction():
                await connection.copy_records_to_table("core_telemetry", records=rows, columns=COLUMNS)
        batched = time.perf_counter() - started
        await connection.execute("TRUNCATE core_telemetry")
        every_row = [row for rows in batches for row in rows]
        started = time.perf_counter()
        await connection.copy_records_to_table("core_telemetry", records=every_row, columns=COLUMNS)
        whole = time.perf_counter() - started
        await connection.execute("TRUNCATE core_telemetry")
        await connection.execute("CREATE TABLE bench_plain (LIKE core_telemetry)")  # the same columns, no index
        started = time.perf_counter()
        await connection.copy_records_to_table("bench_plain", records=every_row, columns=COLUMNS)
        plain = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_plain")
    finally:
        await connection.close()
    return len(every_row) / batched, len(every_row) / whole, len(every_row) / plain


def sqlite_baseline(path: str) -> tuple[float, float, float]:
    """Rows/s of executemany into the raw table (WAL, the driver's defaults): a commit per request-sized batch,
    all rows in one transaction, then all rows into a table of the same columns without an index."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        devices = [r[0] for r in connection.execute("SELECT id FROM core_device ORDER BY id")]
        marks = ", ".join("?" * len(PROPERTIES))
        properties = [r[0] for r in connection.execute(
            f"SELECT id FROM core_telemetry_property WHERE name IN ({marks}) ORDER BY id", PROPERTIES)]
        epoch, step = datetime(1970, 1, 1, tzinfo=timezone.utc), timedelta(microseconds=1)
        batches = baseline_rows(devices, properties, lambda t: (t - epoch) // step)
        insert = f"INSERT INTO core_telemetry ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)"
        started = time.perf_counter()
        for rows in batches:
            connection.execute("BEGIN")
            connection.executemany(insert, rows)
            connection.execute("COMMIT")
        batched = time.perf_counter() - started
        connection.execute("DELETE FROM core_telemetry")
        every_row = [row for rows in batches for row in rows]
        whole = _timed_executemany(connection, insert, every_row)
        connection.execute("DELETE FROM core_telemetry")
        connection.execute("CREATE TABLE bench_plain AS SELECT * FROM core_telemetry WHERE 0")  # no index
        plain = _timed_executemany(connection, insert.replace("core_telemetry", "bench_plain"), every_row)
        connection.execute("DROP TABLE bench_plain")
    finally:
        connection.close()
    return len(every_row) / batched, len(every_row) / whole, len(every_row) / plain


def _timed_executemany(connection: sqlite3.Connection, sql: str, rows: list[tuple]) -> float:
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(sql, rows)
    connection.execute("COMMIT")
    return time.perf_counter() - started


def raw_row_count(url: str) -> int:
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as connection:
            return connection.execute("SELECT count(*) FROM core_telemetry").fetchone()[0]

    async def count() -> int:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval("SELECT count(*) FROM core_telemetry")
        finally:
            await connection.close()

    return asyncio.run(count())


def measure(database_url: str, workdir: Path, workers: int) -> tuple[tuple[float, float, float], float, int]:
    """On one database: the (batched, whole, unindexed) baseline rows/s, the HTTP rows/s acknowledged,
    and the rows the HTTP run stored."""
    env, password = prepare(workdir, database_url)
    body = workdir / "batch.json"
    body.write_bytes(request_body())
    port = free_port()
    with server([TULOU, "serve", "--port", str(port), "--workers", str(workers)], env):
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz")
        tokens = [device["token"] for device in register(base, sign_in(base, password))]
        urllib.request.urlopen(urllib.request.Request(  # compiles the model and warms the token caches
            f"{base}/api/v1/telemetry", data=body.read_bytes(), method="POST",
            headers={"content-type": "application/json", "authorization": f"Bearer {tokens[0]}"}), timeout=30)
        driver_url = urlunsplit(urlsplit(database_url)._replace(scheme="postgresql"))
        baseline = (asyncio.run(pg_baseline(driver_url)) if database_url.startswith("postgres")
                    else sqlite_baseline(database_url.removeprefix("sqlite://")))
        http = wrk_ingest(base, tokens, body, workdir) * ROWS_PER_REQUEST
    return baseline, http, raw_row_count(driver_url if database_url.startswith("postgres") else database_url)


async def pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(urlunsplit(urlsplit(PG_URL)._replace(scheme="postgresql")))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_available() -> bool:
    try:
        asyncio.run(pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError):
        return False
    return True


def report(results: list[tuple[str, str, str]], label: str, baseline: tuple[float, float, float], http: float,
           stored: int, goal: float, workers: int) -> None:
    batched, whole, plain = baseline
    raw = f"{label} raw {'COPY' if label == 'PostgreSQL' else 'executemany'}"
    results.append((f"{raw}, a commit per 5,000 rows", f"{batched:,.0f} rows/s", f"HTTP is {http / batched:.2f} of it"))
    results.append((f"{raw}, all rows in one commit", f"{whole:,.0f} rows/s", f"HTTP is {http / whole:.2f} of it"))
    results.append((f"{raw}, one commit, table without indexes", f"{plain:,.0f} rows/s",
                    f"HTTP is {http / plain:.2f} of it  (goal >= {goal:.2f})"))
    results.append((f"{label} HTTP batch ingest, {workers} worker(s)", f"{http:,.0f} rows/s",
                    f"{stored:,} rows stored"))


def main() -> None:
    results: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory) / "sqlite"
        workdir.mkdir()
        report(results, "SQLite", *measure(f"sqlite://{workdir / 'tulou.sqlite3'}", workdir, workers=1), 0.2, 1)
        if postgres_available():
            for workers in (1, 2):
                name = f"tulou_bench_{uuid.uuid4().hex[:8]}"
                asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
                try:
                    url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
                    workdir = Path(directory) / f"pg{workers}"
                    workdir.mkdir()
                    report(results, "PostgreSQL", *measure(url, workdir, workers), 0.1, workers)
                finally:
                    asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            results.append(("PostgreSQL", "not reachable", f"set BENCH_PG_URL (tried {PG_URL})"))
    width = max(len(name) for name, _, _ in results)
    print(f"\ntelemetry: {READINGS_PER_REQUEST} readings x {len(PROPERTIES)} values per request, "
          f"{DEVICES} devices, 32 connections, {DURATION}; ratios of HTTP to raw inserts of the same rows")
    print(f"{'benchmark':<{width}}  {'measured':>16}  ratio")
    for name, measured, ratio in results:
        print(f"{name:<{width}}  {measured:>16}  {ratio}")


if __name__ == "__main__":
    sys.exit(main())
