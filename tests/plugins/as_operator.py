"""What an operator does: pip-install plugins, run ``tulou`` commands, run ``tulou serve``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.version import Version

FIXTURES = Path(__file__).parent.parent / "fixtures" / "plugins"
TULOU = Path(sys.executable).with_name("tulou")
READY_WITHIN_SECONDS = 30.0


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
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            *isolation,
            "--target",
            str(target),
            *sources,
        ],
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        timeout=300,
    )
    return target


def tulou(
    env: dict[str, str], *args: str, cwd: Path, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a ``tulou`` command to completion, as an operator's shell would."""
    return subprocess.run(
        [str(TULOU), *args], env=env, cwd=cwd, input=input, capture_output=True, text=True, timeout=120
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.put(self.url + path, timeout=5, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=5, **kwargs)

    def sign_in(self, username: str, password: str) -> dict[str, str]:
        """The header of an access token from ``POST /api/v1/auth/token``."""
        issued = self.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert issued.status_code == 200, issued.text
        return {"Authorization": f"Bearer {issued.json()['access_token']}"}


def wait_until_ready(server: RunningServer) -> None:
    """Poll ``/readyz`` until it answers 200; fail with the server's output otherwise."""
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"tulou serve exited with {server.process.returncode}:\n{server.output()}")
        try:
            response = server.get("/readyz")
        except httpx.TransportError as error:
            last = repr(error)
        else:
            if response.status_code == 200:
                return
            last = response.text
        time.sleep(0.2)
    pytest.fail(f"/readyz not 200 within {READY_WITHIN_SECONDS} s ({last}):\n{server.output()}")


@contextmanager
def serving(env: dict[str, str], home: Path) -> Iterator[RunningServer]:
    """``tulou serve`` on a free port, ready; stopped (and its worker with it) on the way out."""
    log = home / "server.log"
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(TULOU), "serve", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_until_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session started above: server and workers
            process.wait(timeout=15)
