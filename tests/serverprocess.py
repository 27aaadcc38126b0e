"""A real ``tulou serve`` process, as an operator runs it: set up with ``tulou`` commands, started, killed, restarted.

For the tests only a separate process can make: plugin distributions installed with
pip (``tests/plugins``), and crash safety (``tests/durability``), where the server is
killed with SIGKILL mid-request and must come back with every acknowledged write.

Each server runs in a session of its own, so :meth:`TulouServer.kill` can end it and
its granian workers together, by that session's id, and nothing else on the machine.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from packaging.version import Version

from tests.conftest import ON_POSTGRES, TEST_DATABASE, pg_execute, with_database

FIXTURES = Path(__file__).parent / "fixtures" / "plugins"
TULOU = Path(sys.executable).with_name("tulou")
READY_WITHIN_SECONDS = 30.0
STOP_WITHIN_SECONDS = 15.0
POLL_SECONDS = 0.02


def can_build_without_isolation() -> bool:
    """setuptools builds wheels alone from 70.1 on; before that it needs ``wheel`` installed."""
    import setuptools

    return Version(setuptools.__version__) >= Version("70.1") or find_spec("wheel") is not None


def pip_install(distributions: list[str], work: Path) -> Path:
    """Install fixture distributions into a directory of their own, for ``PYTHONPATH``.

    The sources are copied first so the build leaves nothing in the repository.
    """
    sources = [str(shutil.copytree(FIXTURES / name, work / "src" / name)) for name in distributions]
    target = work / "site"
    isolation = ["--no-build-isolation"] if can_build_without_isolation() else []
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *isolation, "--target", str(target), *sources],
        check=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, timeout=300,
    )
    return target


def tulou(env: dict[str, str], *args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a ``tulou`` command to completion, as an operator's shell would."""
    return subprocess.run([str(TULOU), *args], env=env, cwd=cwd, input=input, capture_output=True, text=True,
                          timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def operator_environment(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its ``TULOU_*`` variables, plus the server's database and ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TULOU_")}
    env.update(TULOU_DATABASE__URL=database_url, TULOU_DATA_DIR=str(data_dir), **settings)
    return env


@contextmanager
def own_database(directory: Path, template: str | None = None) -> Iterator[str]:
    """A database for one server: a SQLite file in ``directory`` or a new PostgreSQL database (dropped after),
    empty or a copy of ``template``, another such database that nothing is connected to."""
    if not ON_POSTGRES:
        path = directory / "tulou.sqlite3"
        if template is not None:
            shutil.copyfile(urlsplit(template).netloc + urlsplit(template).path, path)
        yield f"sqlite://{path}"
        return
    name = f"tulou_srv_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{urlsplit(template).path.lstrip("/")}"' if template is not None else ""
    asyncio.run(pg_execute(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield with_database(TEST_DATABASE, name)
    finally:
        asyncio.run(pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def set_up_county(env: dict[str, str], home: Path, admin: str, password: str) -> None:
    """What an operator does before the first start: migrate, load the demo county, create its administrator."""
    for args, given in ((("migrate",), None), (("demo",), None), (("admin", "create", admin, "--password-stdin"), password)):
        done = tulou(env, *args, cwd=home, input=given)
        assert done.returncode == 0, f"tulou {' '.join(args)}: {done.stderr}"


async def eventually(condition: Callable[[], bool | Awaitable[bool]], within: float, what: str, steady: int = 1) -> None:
    """Poll ``condition`` until it holds ``steady`` times in a row; fail naming ``what`` if it does not in time.

    Other tasks run between polls: a test waits for a server's state, never for a guessed time.
    """
    deadline, held = time.monotonic() + within, 0
    while held < steady:
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within} s")
        answer = condition()
        held = held + 1 if (await answer if inspect.isawaitable(answer) else answer) else 0
        await asyncio.sleep(POLL_SECONDS)


@dataclass
class TulouServer:
    """``tulou serve`` on ``env``'s database, on a free port each time it starts; its output goes to ``log``."""

    env: dict[str, str]
    home: Path
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0
    log: Path = field(init=False)
    _http: httpx.Client | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log = self.home / "server.log"

    def start(self) -> TulouServer:
        """Start the server and return once ``/readyz`` answers 200."""
        port = free_port()
        self.starts += 1
        self._forget_client()
        with self.log.open("ab") as sink:
            sink.write(f"--- start {self.starts} on port {port}\n".encode())
            sink.flush()
            self.process = subprocess.Popen(
                [str(TULOU), "serve", "--port", str(port)], env=self.env, cwd=self.home,
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{port}"
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        last = "no answer"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"tulou serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                response = self.get("/readyz")
            except httpx.TransportError as error:
                last = repr(error)
            else:
                if response.status_code == 200:
                    return
                last = response.text
            time.sleep(0.1)
        pytest.fail(f"/readyz not 200 within {READY_WITHIN_SECONDS} s ({last}):\n{self.output()}")

    def pids(self) -> list[int]:
        """The server's processes: the granian main process and its workers, all in the session it leads."""
        if self.process is None or self.process.poll() is not None:
            return []
        found = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.process.pid and _session_of(entry) == self.process.pid:
                found.append(int(entry.name))
        return found

    def asleep(self) -> bool:
        """Whether every thread of the server is asleep, waiting for input: none running, runnable or in I/O."""
        states = [_state(task) for pid in self.pids() for task in Path(f"/proc/{pid}/task").glob("*")]
        return bool(states) and all(state in ("S", None) for state in states)

    def kill(self) -> None:
        """SIGKILL the server and its workers at once, as a crash would end them, and reap the main process."""
        assert self.process is not None and self.process.poll() is None, "the server is not running"
        os.killpg(self.process.pid, signal.SIGKILL)
        self._forget_client()
        self.process.wait(timeout=STOP_WITHIN_SECONDS)
        deadline = time.monotonic() + STOP_WITHIN_SECONDS
        while self.running():
            assert time.monotonic() < deadline, "a killed server's worker is still running"
            time.sleep(POLL_SECONDS)

    def kill_main_process(self) -> list[int]:
        """SIGKILL granian's main process alone, as the OOM killer or an operator's ``kill -9 PID`` would; its workers."""
        assert self.process is not None and self.process.poll() is None, "the server is not running"
        workers = [pid for pid in self.pids() if pid != self.process.pid]
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_WITHIN_SECONDS)
        self._forget_client()
        return workers

    def running(self) -> bool:
        """Whether any process of the server, main or worker, is still running."""
        return self.process is not None and _session_alive(self.process.pid)

    def stop(self) -> None:
        """Stop the server the polite way (SIGTERM); SIGKILL its whole session if it does not stop in time."""
        self._forget_client()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_WITHIN_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        if self.running():  # a worker left behind by its main process
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_WITHIN_SECONDS)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    @property
    def http(self) -> httpx.Client:
        """A client kept open to the server as it runs now (a restart brings a new one)."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, timeout=10)
        return self._http

    def _forget_client(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.put(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def sign_in(self, username: str, password: str) -> dict[str, str]:
        """The header of an access token from ``POST /api/v1/auth/token``."""
        issued = self.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert issued.status_code == 200, issued.text
        return {"Authorization": f"Bearer {issued.json()['access_token']}"}


def _stat_fields(path: Path) -> list[str] | None:
    """The fields of ``/proc/.../stat`` after the command name, or ``None`` once the process is gone."""
    try:
        text = (path / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _state(task: Path) -> str | None:
    fields = _stat_fields(task)
    return fields[0] if fields else None


def _session_of(process: Path) -> int | None:
    fields = _stat_fields(process)
    return int(fields[3]) if fields else None


def _session_alive(session: int) -> bool:
    """Whether a process of ``session`` is still running (a zombie waiting to be reaped counts as gone)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry)
            if fields and int(fields[3]) == session and fields[0] != "Z":
                return True
    return False


@contextmanager
def serving(env: dict[str, str], home: Path) -> Iterator[TulouServer]:
    """``tulou serve`` on a free port, ready; stopped (and its workers with it) on the way out."""
    server = TulouServer(env, home)
    try:
        yield server.start()
    finally:
        server.stop()
