"""The container image (deploy/docker/) without a container engine.

The Dockerfile is parsed; its health check runs against a stand-in server; the
build step and the entry point, both shell scripts, run against stub ``pybabel``,
``pip`` and ``tulou`` commands.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.test_deploy_files import DEPLOY, REPO, setting_exists

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.sh"


def instructions(path: Path) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` with continuation lines joined and comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line:
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The build stages, each starting with its FROM; ARGs before the first FROM are left out."""
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(DOCKERFILE):
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def final_stage(keyword: str) -> list[str]:
    return [rest for key, rest in stages()[-1] if key == keyword]


def final_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in final_stage("ENV"):
        env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
    return env


def test_image_is_built_from_python_311_slim() -> None:
    args = {}
    for keyword, rest in instructions(DOCKERFILE):
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    for stage in stages():
        image = stage[0][1].split()[0]
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert resolved == "python:3.11-slim"


def test_image_runs_as_a_non_root_user() -> None:
    users = final_stage("USER")
    assert users, "the final stage sets no USER, so it runs as root"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0")


def test_image_listens_on_all_interfaces_on_the_exposed_port() -> None:
    env = final_env()
    assert final_stage("EXPOSE") == [env["TULOU_PORT"]] == ["8000"]
    assert env["TULOU_HOST"] == "0.0.0.0"
    assert setting_exists("TULOU_PORT") and setting_exists("TULOU_HOST")
    assert all(setting_exists(name) for name in env if name.startswith("TULOU_"))


def healthcheck_command() -> list[str]:
    [check] = final_stage("HEALTHCHECK")
    _, _, command = check.partition(" CMD ")
    argv = json.loads(command)
    assert argv[0] == "python", "the slim image has python but no curl"
    return [sys.executable, *argv[1:]]


class FakeServer(BaseHTTPRequestHandler):
    status = 200
    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        FakeServer.paths.append(self.path)
        self.send_response(FakeServer.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_image_healthcheck_asks_healthz_on_the_configured_port(status: int, healthy: bool) -> None:
    FakeServer.status, FakeServer.paths = status, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "TULOU_PORT": str(server.server_address[1])}
        result = subprocess.run(healthcheck_command(), env=env, capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert FakeServer.paths == ["/healthz"]
    assert (result.returncode == 0) is healthy


def test_image_healthcheck_fails_when_nothing_listens() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), FakeServer) as server:
        port = server.server_address[1]  # closed again before the check runs
    env = {**os.environ, "TULOU_PORT": str(port)}
    assert (
        subprocess.run(healthcheck_command(), env=env, capture_output=True, timeout=30).returncode
        != 0
    )


def ignored_by_docker(path: str) -> bool:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns for prefix in prefixes)


def test_image_copies_only_files_that_are_in_the_build_context() -> None:
    for stage in stages():
        for keyword, rest in stage:
            words = shlex.split(rest)
            if keyword not in ("COPY", "ADD") or any(w.startswith("--from") for w in words):
                continue
            sources = [w for w in words if not w.startswith("--")][:-1]
            for source in sources:
                if not glob.has_magic(source):
                    assert (REPO / source).exists(), (
                        f"COPY {source}: no such file in the repository"
                    )
                    assert not ignored_by_docker(source.rstrip("/")), (
                        f"COPY {source} is excluded by the ignore file"
                    )


def test_image_build_context_leaves_out_secrets_and_local_state() -> None:
    for path in (
        ".env",
        ".git/config",
        ".venv/bin/python",
        "var/tulou.sqlite3",
        "core/tulou/__pycache__/x.pyc",
    ):
        assert ignored_by_docker(path), path
    for path in (
        "pyproject.toml",
        "core/tulou/settings.py",
        "plugins/notices/pyproject.toml",
        "deploy/docker/entrypoint.sh",
    ):
        assert not ignored_by_docker(path), path


def stub_commands(directory: Path, *names: str, script: str = "") -> Path:
    """Commands that log their arguments to ``$STUB_LOG`` (one line per call)."""
    directory.mkdir()
    for name in names:
        stub = directory / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "$STUB_LOG"\n{script}exit 0\n')
        stub.chmod(0o755)
    return directory


def builtin_plugin_names() -> list[str]:
    return sorted(path.parent.name for path in REPO.glob("plugins/*/pyproject.toml"))


def test_image_build_compiles_every_catalogue_and_builds_every_plugin(tmp_path: Path) -> None:
    [build] = [
        rest for stage in stages() for key, rest in stage if key == "RUN" and "pybabel" in rest
    ]
    source = tmp_path / "src"
    for name in builtin_plugin_names():
        (source / "plugins" / name).mkdir(parents=True)
        (source / "plugins" / name / "pyproject.toml").touch()
    (source / "plugins" / "notes-without-pyproject").mkdir(parents=True)
    stubs = stub_commands(tmp_path / "bin", "pybabel", "pip")
    log = tmp_path / "calls.log"
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "STUB_LOG": str(log)}
    subprocess.run(["sh", "-c", build], cwd=source, env=env, check=True, timeout=30)
    calls = log.read_text().splitlines()

    compiled = [tuple(shlex.split(c)[3::2]) for c in calls if c.startswith("pybabel compile")]
    expected = [("core/tulou/i18n/locale", "tulou")]
    expected += [(f"plugins/{name}/tulou_{name}/locale", name) for name in builtin_plugin_names()]
    assert compiled == expected
    for directory, domain in expected:  # the catalogues the image compiles are really there
        for locale in ("zh_CN", "en"):
            assert (REPO / directory / locale / "LC_MESSAGES" / f"{domain}.po").is_file()
    [wheels] = [shlex.split(c) for c in calls if c.startswith("pip wheel --no-deps")]
    assert wheels[wheels.index("/wheels/app") + 1 :] == [
        ".",
        *(f"plugins/{n}" for n in builtin_plugin_names()),
    ]


def run_entrypoint(tmp_path: Path, *args: str, migrate_exit: int = 0) -> tuple[int, list[str]]:
    script = f'[ "$1" = migrate ] && exit {migrate_exit}\n'
    stubs = stub_commands(tmp_path / "bin", "tulou", script=script)
    log = tmp_path / "calls.log"
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "STUB_LOG": str(log)}
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, timeout=30
    )
    return result.returncode, log.read_text().splitlines() if log.exists() else []


def test_image_entrypoint_migrates_then_serves(tmp_path: Path) -> None:
    assert run_entrypoint(tmp_path) == (0, ["tulou migrate", "tulou serve"])


def test_image_entrypoint_passes_serve_options_on(tmp_path: Path) -> None:
    assert run_entrypoint(tmp_path, "serve", "--workers", "2") == (
        0,
        ["tulou migrate", "tulou serve --workers 2"],
    )


def test_image_entrypoint_does_not_serve_after_a_failed_migration(tmp_path: Path) -> None:
    assert run_entrypoint(tmp_path, migrate_exit=3) == (3, ["tulou migrate"])


def test_image_entrypoint_runs_other_commands_without_migrating(tmp_path: Path) -> None:
    assert run_entrypoint(tmp_path, "plugins", "list") == (0, ["tulou plugins list"])


def test_image_entry_point_is_the_script_copied_in() -> None:
    [entrypoint] = final_stage("ENTRYPOINT")
    [command] = json.loads(entrypoint)
    copies = [shlex.split(rest) for rest in final_stage("COPY")]
    destinations = [words[-1] for words in copies if "deploy/docker/entrypoint.sh" in words]
    assert destinations and Path(destinations[0]).name == command
    assert Path(destinations[0]).parent in (Path("/usr/local/bin"), Path("/usr/bin"))
    assert json.loads(final_stage("CMD")[-1]) == ["serve"]
