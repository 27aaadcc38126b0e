"""A Mosquitto broker of the tests' own, configured and given Tulou's account as ``deploy/mosquitto/`` tells a county.

The machine's broker on port 1883 has no dynamic-security plugin, so the tests and the
benchmark start their own on a free loopback port, from the example
``deploy/mosquitto/mosquitto.conf`` with its paths moved into a temporary directory and
its TLS listener left out, then run ``deploy/mosquitto/tulou-account.sh`` against it.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "mosquitto"
PLUGIN_NAME = "mosquitto_dynamic_security.so"
ADMIN = "admin"
#: The tests' ``devices.mqtt.password_key``, from which Tulou derives the devices' broker passwords.
PASSWORD_KEY = "3q2-7wR5l8wvCXgJ0m7l0yBqkP4tV1a6YwZ8sN2dE4A"


@dataclass(frozen=True)
class Broker:
    port: int
    admin_password: str
    tulou_password: str
    directory: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def mqtt_settings(self, password_key: str, prefix: str) -> dict[str, object]:
        """The ``devices.mqtt`` settings of a Tulou using this broker."""
        return {"url": self.url, "username": "tulou", "password": self.tulou_password, "password_key": password_key,
                "client_id_prefix": prefix}

    def server_environment(self, prefix: str) -> dict[str, str]:
        """The ``TULOU_DEVICES__MQTT__*`` variables of a ``tulou serve`` using this broker."""
        return {f"TULOU_DEVICES__MQTT__{name.upper()}": value
                for name, value in self.mqtt_settings(PASSWORD_KEY, prefix).items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dynsec_plugin() -> str:
    found = sorted(glob.glob(f"/usr/lib/*/{PLUGIN_NAME}") + glob.glob(f"/usr/lib/{PLUGIN_NAME}"))
    if not found or shutil.which("mosquitto") is None or shutil.which("mosquitto_ctrl") is None:
        raise RuntimeError("Mosquitto with its dynamic-security plugin is not installed: run tests/services.sh")
    return found[0]


def broker_config(directory: Path, port: int) -> str:
    """The deploy example, with this directory's paths, one plain loopback listener, and the current user."""
    moved = {
        "pid_file": str(directory / "mosquitto.pid"),
        "log_dest": f"file {directory / 'mosquitto.log'}",
        "persistence_location": f"{directory}/",
        "plugin": dynsec_plugin(),
        "plugin_opt_config_file": str(directory / "dynamic-security.json"),
    }
    lines = []
    for line in (DEPLOY / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in {"listener", "certfile", "keyfile"}:
            continue
        lines.append(f"{key} {moved[key]}" if key in moved else line)
    lines += [f"listener {port} 127.0.0.1", f"user {getpass.getuser()}"]  # root stays root, others stay themselves
    return "\n".join(lines) + "\n"


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {log.read_text() if log.exists() else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on {port}")


@contextlib.contextmanager
def mosquitto_broker(directory: Path) -> Iterator[Broker]:
    """A running broker with the plugin initialised and Tulou's account made; stopped afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    broker = Broker(free_port(), secrets.token_urlsafe(12), secrets.token_urlsafe(12), directory)
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(directory / "dynamic-security.json"), ADMIN,
                    broker.admin_password], check=True, capture_output=True)
    config = directory / "mosquitto.conf"
    config.write_text(broker_config(directory, broker.port))
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(broker.port, process, directory / "mosquitto.log")
        subprocess.run(["sh", str(DEPLOY / "tulou-account.sh"), broker.host, str(broker.port)], check=True,
                       capture_output=True, env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
                                                 "MQTT_ADMIN_PASSWORD": broker.admin_password,
                                                 "MQTT_TULOU_PASSWORD": broker.tulou_password})
        yield broker
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
