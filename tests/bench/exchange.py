"""Benchmarks of the exchange's bulk paths, each printed as a ratio against a baseline measured in the same run.

1. Bulk import of N records (default 100,000) through the import service (NDJSON
   decoding, validation with jsonschema-rs, area checks, records, change feed) vs a raw
   ``executemany`` of the same rows into the records table (goal: ratio >= 0.3).
2. Peak memory of a streamed NDJSON import of M rows (default 1,000,000), in a process
   of its own: max RSS (goal < 300 MB).
3. Records read per second through the API (the list, a page at a time, and the NDJSON
   export) vs the same rows read raw.

SQLite always; PostgreSQL too when ``BENCH_POSTGRES`` names a server (default
``postgres://postgres@127.0.0.1:5432/postgres``; ``BENCH_POSTGRES=`` skips it).
``BENCH_IMPORT_ROWS`` and ``BENCH_MEMORY_ROWS`` set N and M; ``BENCH_DATABASES=postgres`` runs one only.

    .venv/bin/python tests/bench/exchange.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

DATASET = "bench.plots"
VILLAGES = ("350899100201", "350899100202", "350899101201", "350899101202")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1}, "crop": {"type": "string", "enum": ["rice", "tea", "maize"]},
        "area_mu": {"type": "number", "minimum": 0}, "irrigated": {"type": "boolean"},
        "household": {"type": "string"}, "planted": {"type": "string", "format": "date"},
        "soil_ph": {"type": "number"},
    },
    "required": ["name", "crop", "area_mu"],
    "additionalProperties": False,
}
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
MEMORY_ROWS = int(os.environ.get("BENCH_MEMORY_ROWS", "1000000"))
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
TOKEN = secrets.token_urlsafe(24)


def data(n: int) -> dict[str, Any]:
    return {"name": f"plot {n}", "crop": ("rice", "tea", "maize")[n % 3], "area_mu": 1 + n % 17 / 4,
            "irrigated": n % 2 == 0, "household": f"H{n // 3:06d}", "planted": "2026-04-01", "soil_ph": 6.5}


async def ndjson_chunks(rows: int, prefix: str = "p") -> AsyncIterator[bytes]:
    """The import's body, made as it is read, 1,000 lines a chunk: the file never exists whole."""
    for start in range(0, rows, 1000):
        yield "".join(
            json.dumps({"id": f"{prefix}{n}", "area": VILLAGES[n % 4], "data": data(n)}) + "\n"
            for n in range(start, min(rows, start + 1000))
        ).encode()


def settings_for(url: str, directory: Path) -> dict[str, Any]:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    return {"database": {"url": url}, "data_dir": directory / "data", "jobs": {"enabled": False},
            "identity": {"encryption_keys": f"kbench:{key}",
                         "blind_index_key": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")}}


@asynccontextmanager
async def fresh_database(kind: str, directory: Path) -> AsyncIterator[str]:
    """An empty database URL: a file on SQLite, a database of its own on PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite://{directory / 'bench.sqlite3'}"
        return
    import asyncpg

    admin_url = urlunsplit(urlsplit(POSTGRES)._replace(scheme="postgresql"))
    name = f"tulou_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin_url)
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(POSTGRES)._replace(path=f"/{name}"))
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def prepare(platform: Any) -> None:
    """Inside the app's lifespan: load the demo county, publish the dataset, give the benchmark an admin token."""
    from tulou.areas.demo import load_demo_county
    from tulou.cli.people import COMMAND_LINE
    from tulou.exchange.catalogue import declare_dataset
    from tulou.exchange.models import Classification
    from tulou.exchange.schemas import DatasetIn, Translated
    from tulou.identity.accounts_models import AccessToken, Account, Role, RoleBinding, TokenKind
    from tulou.identity.auth import token_hash
    from tulou.identity.models import Organisation, OrganisationKind

    await load_demo_county(platform)
    county = "350899000000"
    bureau = await Organisation.create(name="bench bureau", kind=OrganisationKind.DEPARTMENT, area_id=county)
    await declare_dataset(COMMAND_LINE, DatasetIn(
        id=DATASET, title=Translated(zh_CN="地块"), classification=Classification.INTERNAL, schema=SCHEMA,
        owner=bureau.id, manager=bureau.id, area=county,
    ))
    account = await Account.create(username="bench", password_hash="!", home_area_id=county)
    await RoleBinding.create(account=account, role=await Role.get(name="county_admin"), area_id=county, created_by="bench")
    await AccessToken.create(token_hash=token_hash(TOKEN), account=account, kind=TokenKind.ACCESS,
                             expires_at=datetime(2999, 1, 1, tzinfo=timezone.utc), token_version=account.token_version)


async def raw_insert(rows: int) -> float:
    """The baseline: the same rows straight into the records table, one ``executemany`` per 2,000, one transaction."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    from tulou.exchange.bulk import CHUNK
    from tulou.exchange.chunk_writes import RECORD_COLUMNS
    from tulou.exchange.driver_rows import insert_statement

    at = datetime.now(timezone.utc)
    started = time.perf_counter()
    async with in_transaction():
        connection = connections.get("default")
        insert = insert_statement(connection, "core_record", RECORD_COLUMNS)
        for start in range(0, rows, CHUNK):
            await connection.execute_many(insert, [
                [DATASET, f"raw{n}", 2, 0, VILLAGES[n % 4], json.dumps(data(n)), 1, False, "raw", "raw", at, at]
                for n in range(start, min(rows, start + CHUNK))
            ])
    return time.perf_counter() - started


async def service_import(rows: int, prefix: str = "p") -> float:
    from tulou.cli.people import COMMAND_LINE
    from tulou.exchange.bulk import import_records
    from tulou.exchange.sources import ndjson_rows

    started = time.perf_counter()
    result = await import_records(COMMAND_LINE, DATASET, ndjson_rows(ndjson_chunks(rows, prefix)))
    assert result.created == rows and not result.invalid, result
    return time.perf_counter() - started


async def read_rates(app: Any, rows: int) -> tuple[float, float, float]:
    """Records/s through the list (pages of the largest size), through the NDJSON export, and raw."""
    from tortoise import connections

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        started, cursor, seen = time.perf_counter(), None, 0
        while True:
            page = (await client.get(f"/api/v1/datasets/{DATASET}/records/", headers=headers,
                                     params={"limit": 1000, **({"cursor": cursor} if cursor else {})})).json()
            seen += len(page["items"])
            if not (cursor := page["next"]):
                break
        listed = seen / (time.perf_counter() - started)
        started = time.perf_counter()
        exported = (await client.get(f"/api/v1/datasets/{DATASET}/records:export", headers=headers)).content.count(b"\n")
        streamed = exported / (time.perf_counter() - started)
    started = time.perf_counter()
    found = await connections.get("default").execute_query_dict(
        "SELECT key, area_id, version, major, minor, data, deleted, created_at, updated_at FROM core_record "
        "WHERE dataset_id = 'bench.plots' AND major = 1 ORDER BY id")
    decoded = [json.loads(row["data"]) if isinstance(row["data"], str) else row["data"] for row in found]
    raw = len(decoded) / (time.perf_counter() - started)
    assert seen == exported == len(decoded) == rows, (seen, exported, len(decoded))
    return listed, streamed, raw


async def migrated_app(url: str, directory: Path) -> Any:
    from tulou.db.lifecycle import apply_migrations
    from tulou.web.app import create_app

    app = create_app(plugins=[], **settings_for(url, directory))
    await apply_migrations(app.state.platform.db_config)
    return app


async def throughput(kind: str) -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as directory:
        async with fresh_database(kind, Path(directory)) as url:
            app = await migrated_app(url, Path(directory))
            async with app.lifespan():
                await prepare(app.state.platform)
                imported = await service_import(IMPORT_ROWS)
                raw = await raw_insert(IMPORT_ROWS)
                listed, streamed, read_raw = await read_rates(app, IMPORT_ROWS)
    label = f"[{kind}]"
    return [
        (f"{label} raw executemany of {IMPORT_ROWS:,} records (baseline)", f"{IMPORT_ROWS / raw:,.0f} rec/s", "1.00"),
        (f"{label} import through the service, validated", f"{IMPORT_ROWS / imported:,.0f} rec/s",
         f"{raw / imported:.2f}  (goal >= 0.30)"),
        (f"{label} raw SELECT + JSON decode (baseline)", f"{read_raw:,.0f} rec/s", "1.00"),
        (f"{label} API list, pages of 1,000", f"{listed:,.0f} rec/s", f"{listed / read_raw:.2f}"),
        (f"{label} API NDJSON export", f"{streamed:,.0f} rec/s", f"{streamed / read_raw:.2f}"),
    ]


async def memory_child(kind: str, rows: int) -> None:
    """Run in a process of its own: import ``rows`` streamed rows, print the seconds and the peak RSS in MB."""
    with tempfile.TemporaryDirectory() as directory:
        async with fresh_database(kind, Path(directory)) as url:
            app = await migrated_app(url, Path(directory))
            async with app.lifespan():
                await prepare(app.state.platform)
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                seconds = await service_import(rows)
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "before_mb": before}))


def memory(kind: str) -> tuple[str, str, str]:
    output = subprocess.run([sys.executable, __file__, "memory", kind, str(MEMORY_ROWS)], capture_output=True,
                            text=True, check=True, timeout=3600).stdout
    measured = json.loads(output.strip().splitlines()[-1])
    return (f"[{kind}] peak RSS, streamed import of {MEMORY_ROWS:,} rows ({measured['seconds']:.0f} s)",
            f"{measured['peak_mb']:,.0f} MB", f"{measured['peak_mb'] / 300:.2f} of the 300 MB goal "
            f"(before the import: {measured['before_mb']:,.0f} MB)")


def databases() -> list[str]:
    """SQLite, and PostgreSQL unless ``BENCH_POSTGRES`` is set empty; ``BENCH_DATABASES`` picks some."""
    if os.environ.get("BENCH_DATABASES"):
        return os.environ["BENCH_DATABASES"].split(",")
    return ["sqlite", "postgres"] if POSTGRES else ["sqlite"]


def throughput_rows(kind: str) -> list[tuple[str, str, str]]:
    """In a process of its own: Tortoise keeps per-model query templates of the first database it served."""
    output = subprocess.run([sys.executable, __file__, "throughput", kind], capture_output=True, text=True,
                            check=True, timeout=3600).stdout
    return [tuple(row) for row in json.loads(output.strip().splitlines()[-1])]  # type: ignore[misc]


def results() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for kind in databases():
        found.extend(throughput_rows(kind))
        found.append(memory(kind))
    return found


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "memory":
        asyncio.run(memory_child(sys.argv[2], int(sys.argv[3])))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "throughput":
        print(json.dumps(asyncio.run(throughput(sys.argv[2]))))
        return
    rows = results()
    width = max(len(name) for name, _, _ in rows)
    print(f"{'benchmark':<{width}}  {'measured':>14}  ratio")
    for name, measured, ratio in rows:
        print(f"{name:<{width}}  {measured:>14}  {ratio}")


if __name__ == "__main__":
    main()
