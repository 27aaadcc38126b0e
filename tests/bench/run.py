"""Benchmarks for the ring, printed as ratios against a baseline measured in the same run.

Telemetry ingest has its own script, tests/bench/telemetry.py, and downsampled telemetry queries
tests/bench/telemetry_query.py; ``make bench`` runs both next.

1. Requests/s of a plugin route through the module gate vs the bare ``/healthz``
   route, same server, same run (goal: ratio >= 0.6).
2. Requests/s of the same plugin route behind ``requires(...)``, called with a staff
   access token, vs the public one: the cost of authentication and the area-scoped
   permission check (goal: ratio >= 0.7).
3. Start-up of ``tulou serve`` with all built-in plugins to ``/readyz`` 200 (goal < 2 s).
4. The same bare route served by granian and by uvicorn (why ``tulou serve`` uses granian).
5. ``tulou people import`` of a 10,000-row CSV list, process start included (goal < 10 s).
6. The exchange's bulk import, import memory and read rates (``exchange.py`` beside this file).

Load comes from ``wrk`` on 127.0.0.1 only; every run is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import exchange  # tests/bench/exchange.py, beside this script

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
TULOU = str(VENV_BIN / "tulou")
ADMIN = "benchadmin"
TOWN, VILLAGE = "350899100000", "350899100201"
DURATION = os.environ.get("BENCH_DURATION", "5s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_ready(url: str, limit: float = 30.0) -> None:
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        if status(url) == 200:
            return
        time.sleep(0.01)
    raise RuntimeError(f"{url} not ready after {limit} s")


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(url: str, headers: dict[str, str] | None = None, script: Path | None = None) -> float:
    """Requests/s of ``url`` (or of the requests a Lua ``script`` makes); every answer must be 2xx."""
    header_args = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    script_args = ["-s", str(script)] if script else []
    output = subprocess.run(
        ["wrk", "-t", "1", "-c", "32", "-d", DURATION, *header_args, *script_args, url],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match or "Non-2xx" in output:
        raise RuntimeError(f"wrk failed on {url}:\n{output}")
    return float(match.group(1))


def prepare(workdir: Path) -> tuple[dict[str, str], str]:
    """Install the probe plugin, migrate, load the demo county and create an administrator.

    Returns the servers' environment and the administrator's password.
    """
    probe_target = workdir / "probe"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(probe_target), str(HERE / "probe_plugin")],
        check=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(probe_target),
        "TULOU_DATA_DIR": str(workdir / "data"),
        "TULOU_LOG_LEVEL": "WARNING",
        "TULOU_JOBS__ENABLED": "false",
    }
    for command in (["migrate"], ["demo"], ["identity", "new-keys", "--env-file", str(workdir / ".env")]):
        subprocess.run([TULOU, *command], env=env, check=True, stdout=subprocess.DEVNULL, cwd=workdir)
    password = secrets.token_urlsafe(18)
    subprocess.run(
        [TULOU, "admin", "create", ADMIN, "--password-stdin"], env=env, check=True, input=password, text=True,
        stdout=subprocess.DEVNULL, cwd=workdir,
    )
    return env, password


def sign_in(base: str, password: str) -> str:
    body = json.dumps({"username": ADMIN, "password": password}).encode()
    request = urllib.request.Request(f"{base}/api/v1/auth/token", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def people_import_seconds(env: dict[str, str], workdir: Path, rows: int = 10_000) -> float:
    """Wall time of one ``tulou people import`` of ``rows`` residents in two villages, a household per three."""
    from tulou.identity.resident_id import check_character

    path = workdir / "people.csv"
    lines = ["姓名,身份证号,手机,户号,所属村,标签,地址"]
    for n in range(rows):
        first = f"35{n // 1000:02d}99{1940 + n // 1000}0101{n % 1000:03d}"
        village = VILLAGE if n % 2 else "350899101201"
        lines.append(f"居民{n},{first}{check_character(first)},138{n:08d},{n // 3:05d},{village},elderly,地址{n // 3}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    started = time.perf_counter()
    subprocess.run([TULOU, "people", "import", str(path)], env=env, check=True, stdout=subprocess.DEVNULL, cwd=workdir)
    return time.perf_counter() - started


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it)")
    with tempfile.TemporaryDirectory() as directory:
        env, password = prepare(Path(directory))
        results: list[tuple[str, str, str]] = []

        port = free_port()
        started = time.perf_counter()
        with server([TULOU, "serve", "--port", str(port)], env):
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            startup = time.perf_counter() - started
            base = f"http://127.0.0.1:{port}"
            staff = {"Authorization": f"Bearer {sign_in(base, password)}"}
            for plugin in ("benchprobe", "notices"):
                assert status(f"{base}/api/v1/areas/{TOWN}/modules/{plugin}", "PUT", staff) in (200, 201)
            time.sleep(2.5)  # past the module cache age, so every worker sees the activation
            assert status(f"{base}/api/v1/benchprobe/areas/{VILLAGE}/guarded", headers=staff) == 200
            bare = wrk(f"{base}/healthz")
            gated = wrk(f"{base}/api/v1/benchprobe/areas/{VILLAGE}/ping")
            guarded = wrk(f"{base}/api/v1/benchprobe/areas/{VILLAGE}/guarded", staff)
            notices = wrk(f"{base}/api/v1/notices/areas/{VILLAGE}/notices")
        results.append(("bare /healthz (baseline)", f"{bare:,.0f} req/s", "1.00"))
        results.append(("plugin route through the module gate", f"{gated:,.0f} req/s", f"{gated / bare:.2f}  (goal >= 0.60)"))
        results.append(("same route behind requires(), staff token", f"{guarded:,.0f} req/s", f"{guarded / gated:.2f} of the public route  (goal >= 0.70)"))
        results.append(("notices list (gate + database query)", f"{notices:,.0f} req/s", f"{notices / bare:.2f}"))
        results.append(("start-up to /readyz 200", f"{startup:.2f} s", f"{startup / 2.0:.2f} of the 2 s goal"))

        uvicorn = VENV_BIN / "uvicorn"
        if uvicorn.exists():
            port = free_port()
            with server([str(uvicorn), "--factory", "tulou.web.app:app_from_environment", "--port", str(port), "--log-level", "warning", "--no-access-log"], env):
                wait_ready(f"http://127.0.0.1:{port}/readyz")
                uvicorn_rps = wrk(f"http://127.0.0.1:{port}/healthz")
            results.append(("uvicorn, bare /healthz", f"{uvicorn_rps:,.0f} req/s", f"{uvicorn_rps / bare:.2f} of granian"))

        imported = people_import_seconds(env, Path(directory))
        results.append(("people import, 10,000 CSV rows", f"{imported:.1f} s", f"{imported / 10.0:.2f} of the 10 s goal"))
    results.extend(exchange.results())

    width = max(len(name) for name, _, _ in results)
    print(f"{'benchmark':<{width}}  {'measured':>14}  ratio")
    for name, measured, ratio in results:
        print(f"{name:<{width}}  {measured:>14}  {ratio}")


if __name__ == "__main__":
    main()
