"""The systemd unit, its env file and the nginx site agree with the code and with each other.

No init system or web server is needed: the files are parsed here and the
settings they name are checked against :class:`tulou.settings.CoreSettings`.
The container image has its own tests in ``test_container_image.py``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel

from tulou.settings import CoreSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "systemd" / "tulou.service"
ENV_EXAMPLE = DEPLOY / "systemd" / "tulou.env.example"
NGINX_SITE = DEPLOY / "nginx" / "tulou.conf"

SETTING_NAME = re.compile(r"\bTULOU_[A-Z0-9_]+")


# -- settings names -------------------------------------------------------------------


def setting_exists(name: str, settings_class: type[BaseModel] = CoreSettings) -> bool:
    """Whether ``TULOU_A__B`` names a value field ``a.b`` (nested sections joined by ``__``)."""
    model: type[BaseModel] = settings_class
    parts = name.removeprefix("TULOU_").lower().split("__")
    for position, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if position == len(parts) - 1:
            return not is_section
        if not is_section:
            return False
        model = annotation
    return False


def leaf_setting_names(model: type[BaseModel], prefix: str = "TULOU_") -> set[str]:
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= leaf_setting_names(annotation, f"{prefix}{field_name.upper()}__")
        else:
            names.add(f"{prefix}{field_name.upper()}")
    return names


def example_settings() -> CoreSettings:
    """The settings the service gets from a copy of the env example, as pydantic reads them."""
    return CoreSettings(_env_file=ENV_EXAMPLE)


def test_setting_name_check_can_tell_real_from_made_up() -> None:
    assert setting_exists("TULOU_WEB__WORKERS")
    assert setting_exists("TULOU_DATABASE__URL")
    assert not setting_exists("TULOU_WORKERS")
    assert not setting_exists("TULOU_WEB")
    assert not setting_exists("TULOU_PORT__NUMBER")


def test_env_example_names_only_settings_that_exist() -> None:
    names = set(SETTING_NAME.findall(ENV_EXAMPLE.read_text()))
    assert names, "the env example names no TULOU_ variable"
    assert sorted(name for name in names if not setting_exists(name)) == []


def test_env_example_documents_every_core_setting() -> None:
    documented = set(SETTING_NAME.findall(ENV_EXAMPLE.read_text()))
    assert sorted(leaf_setting_names(CoreSettings) - documented) == []


def test_env_example_lines_are_plain_assignments_systemd_and_pydantic_read_alike() -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.fullmatch(r"TULOU_[A-Z0-9_]+=[^\s\"'$]*", line), line


def test_env_example_values_are_valid_production_settings() -> None:
    settings = example_settings()
    assert settings.is_postgres
    assert settings.data_dir.is_absolute()
    assert settings.host == "127.0.0.1", "behind nginx the server listens on loopback only"


# -- systemd unit ---------------------------------------------------------------------


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values]}}``; systemd allows a key more than once."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{line!r} is outside any section"
        key, separator, value = line.partition("=")
        assert separator, f"{line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service() -> dict[str, list[str]]:
    return read_unit(UNIT)["Service"]


def single(key: str) -> str:
    values = service().get(key, [])
    assert len(values) == 1, f"{key} should be set once, is {values}"
    return values[0]


def command_line(value: str) -> list[str]:
    return shlex.split(value.lstrip("-@:+!"))


def test_unit_runs_tulou_serve_as_an_unprivileged_user() -> None:
    serve = command_line(single("ExecStart"))
    assert Path(serve[0]).name == "tulou" and serve[1] == "serve"
    assert single("User") == "tulou"
    assert single("Group") == "tulou"


def test_unit_migrates_before_serving_with_the_same_installation() -> None:
    serve = command_line(single("ExecStart"))
    pre = [command_line(value) for value in service().get("ExecStartPre", [])]
    assert [serve[0], "migrate"] in pre
    assert not single("ExecStartPre").startswith("-"), "a failed migration must stop the start"


def test_unit_reads_settings_from_etc_and_restarts_on_failure() -> None:
    assert single("EnvironmentFile") == "/etc/tulou/tulou.env"
    assert single("WorkingDirectory") == "/opt/tulou"
    assert single("Restart") == "on-failure"
    assert "/etc/tulou/tulou.env" in ENV_EXAMPLE.read_text(), "the example should say where it goes"


def test_unit_is_hardened() -> None:
    assert single("NoNewPrivileges") == "yes"
    assert single("ProtectSystem") == "strict"
    assert single("ProtectHome") == "yes"
    assert single("PrivateTmp") == "yes"
    assert single("CapabilityBoundingSet") == ""


def test_the_data_dir_is_created_for_the_user_and_writable_under_protect_system_strict() -> None:
    data_dir = str(example_settings().data_dir)
    created = {
        f"/var/lib/{name}"
        for value in service().get("StateDirectory", [])
        for name in value.split()
    }
    writable = {path for value in service().get("ReadWritePaths", []) for path in value.split()}
    assert data_dir in created, "StateDirectory= should create the data dir, owned by the user"
    assert data_dir in writable | created


# -- nginx site -----------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def all(self, name: str) -> list[Directive]:
        return [child for child in self.block or [] if child.name == name]

    def value(self, name: str) -> list[str]:
        found = self.all(name)
        assert len(found) == 1, (
            f"{name} should appear once in {self.name} {self.args}, found {len(found)}"
        )
        return found[0].args


NGINX_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[{};]|#[^\n]*|[^\s{};'"#]+""")


def read_nginx(path: Path) -> Directive:
    """The site as a tree of directives (enough of nginx's grammar for this file)."""
    tokens = [t for t in NGINX_TOKEN.findall(path.read_text()) if not t.startswith("#")]
    root = Directive("site", [], [])
    stack = [root]
    words: list[str] = []
    for token in tokens:
        if token in (";", "{"):
            directive = Directive(words[0], words[1:], [] if token == "{" else None)
            stack[-1].block.append(directive)  # type: ignore[union-attr]
            if token == "{":
                stack.append(directive)
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token[1:-1] if token[0] in "'\"" else token)
    assert len(stack) == 1 and not words, "unbalanced braces"
    return root


def nginx_size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


def walk(directive: Directive) -> list[Directive]:
    found = []
    for child in directive.block or []:
        found += [child, *walk(child)]
    return found


def tls_server(site: Directive) -> Directive:
    [server] = [
        s for s in site.all("server") if any("ssl" in listen.args for listen in s.all("listen"))
    ]
    return server


def test_nginx_proxies_to_the_address_the_unit_serves_on() -> None:
    settings = example_settings()
    serve = command_line(single("ExecStart"))
    host = serve[serve.index("--host") + 1] if "--host" in serve else settings.host
    port = serve[serve.index("--port") + 1] if "--port" in serve else settings.port
    site = read_nginx(NGINX_SITE)
    [upstream] = site.all("upstream")
    assert [server.args[0] for server in upstream.all("server")] == [f"{host}:{port}"]
    passes = [
        d.args[0] for server in site.all("server") for d in walk(server) if d.name == "proxy_pass"
    ]
    assert passes and set(passes) == {f"http://{upstream.args[0]}"}


def test_nginx_body_limit_equals_the_apps() -> None:
    [limit] = tls_server(read_nginx(NGINX_SITE)).value("client_max_body_size")
    assert nginx_size(limit) == example_settings().web.max_body_bytes


def test_nginx_passes_request_id_and_forwarding_headers() -> None:
    server = tls_server(read_nginx(NGINX_SITE))
    headers = {d.args[0].lower(): d.args[1] for d in server.all("proxy_set_header")}
    assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for"
    assert headers["x-forwarded-proto"] == "$scheme"
    request_id = headers["x-request-id"]
    [mapping] = [m for m in read_nginx(NGINX_SITE).all("map") if m.args[1] == request_id]
    assert mapping.args[0] == "$http_x_request_id", "a caller's X-Request-ID should be passed on"
    assert mapping.value("default") == ["$request_id"], "nginx should make one up otherwise"


def test_nginx_compresses_json() -> None:
    server = tls_server(read_nginx(NGINX_SITE))
    assert server.value("gzip") == ["on"]
    assert {"application/json", "application/problem+json"} <= set(server.value("gzip_types"))


@pytest.mark.parametrize("path", ["/metrics", "/readyz"])
def test_nginx_keeps_metrics_and_readiness_off_the_internet(path: str) -> None:
    [location] = [
        loc for loc in tls_server(read_nginx(NGINX_SITE)).all("location") if loc.args == ["=", path]
    ]
    rules = [(d.name, d.args[0]) for d in location.block or [] if d.name in ("allow", "deny")]
    assert rules[-1] == ("deny", "all")
    assert ("allow", "all") not in rules


def test_nginx_serves_tls_and_redirects_plain_http() -> None:
    site = read_nginx(NGINX_SITE)
    server = tls_server(site)
    assert server.value("ssl_certificate") and server.value("ssl_certificate_key")
    [plain] = [s for s in site.all("server") if s is not server]
    assert all("ssl" not in listen.args for listen in plain.all("listen"))
    assert plain.value("return")[0] == "301" and plain.value("return")[1].startswith("https://")


# -- deploy/README.md -----------------------------------------------------------------


def test_deploy_readme_explains_every_file() -> None:
    readme = (DEPLOY / "README.md").read_text()
    files = [
        p.relative_to(DEPLOY).as_posix()
        for p in DEPLOY.rglob("*")
        if p.is_file() and p.name != "README.md"
    ]
    assert files and [f for f in sorted(files) if f not in readme] == []
