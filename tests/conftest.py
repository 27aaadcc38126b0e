"""Fixtures: an app built from an explicit plugin list on a fresh, migrated database.

The same suite runs on SQLite and on PostgreSQL: ``TULOU_TEST_DATABASE`` is
``sqlite`` (the default) or a PostgreSQL server URL. Each session migrates one
template database; each test gets a copy of it (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import httpx
from argon2 import PasswordHasher
from litestar import Litestar

from tests.mqtt_broker import Broker, mosquitto_broker
from tulou.db.lifecycle import apply_migrations
from tulou.identity.accounts_models import AccessToken, Account, Role, RoleBinding, TokenKind
from tulou.identity.auth import token_hash
from tulou.platform import build_platform
from tulou.web.app import create_app

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN_USERNAME = "test-admin"
# Fixed test-only keys for personal data at rest (never used outside the tests).
TEST_ENCRYPTION_KEYS = "ktest:0BEBDoFSKCjBhqJ2V7HfuABV-fHRoEa7I6MZqkvcFI8"
TEST_BLIND_INDEX_KEY = "EAj-Gm4P5A-gYLC1sYxas5l-QKzkyKsOWHR1GXFEx5U"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DEMO_COUNTY = "350899000000"
YUNXI_TOWN = "350899100000"
SHIMEN_TOWN = "350899101000"
MEILIN_TOWNSHIP = "350899200000"
SHANGPING_VILLAGE = "350899100201"
NANYANG_VILLAGE = "350899101201"

TEST_DATABASE = os.environ.get("TULOU_TEST_DATABASE", "sqlite")
ON_POSTGRES = TEST_DATABASE.startswith("postgres")


def reuse_parsed_handler_signatures() -> None:
    """Parse each route handler's signature once per run, not once per app: for the tests only.

    Every test builds its own app, and Litestar reads each of its ~400 handlers' type
    hints and builds a signature model for each anew: about a third of building an app.
    The handlers are the same functions in every app (a controller's methods, or
    closures of one definition), so the result is kept by the function's code, the
    names it may resolve and whatever else the model is made from. A handler whose
    code cannot be told apart is parsed as before.
    """
    from litestar._signature.model import SignatureModel
    from litestar.utils.signature import ParsedSignature

    parse, create = ParsedSignature.from_fn.__func__, SignatureModel.create.__func__  # type: ignore[attr-defined]
    parsed: dict[Any, Any] = {}
    models: dict[Any, Any] = {}

    def code_of(fn: Any) -> tuple[Any, bool]:
        function = getattr(fn, "__func__", fn)
        return getattr(function, "__code__", None), function is not fn

    def remembered(cache: dict[Any, Any], key: Any, make: Callable[[], Any]) -> Any:
        try:
            hash(key)
        except TypeError:
            return make()
        if key[0][0] is None:
            return make()
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def from_fn(cls: Any, fn: Any, signature_namespace: dict[str, Any]) -> Any:
        key = (code_of(fn), frozenset(signature_namespace.items()))
        return remembered(parsed, key, lambda: parse(cls, fn, signature_namespace))

    def create_model(cls: Any, dependency_name_set: set[str], fn: Any, parsed_signature: Any, type_decoders: Any,
                     data_dto: Any = None) -> Any:
        key = (code_of(fn), frozenset(dependency_name_set), id(parsed_signature), tuple(type_decoders), data_dto)
        return remembered(models, key, lambda: create(cls, dependency_name_set, fn, parsed_signature, type_decoders,
                                                      data_dto))

    ParsedSignature.from_fn = classmethod(from_fn)  # type: ignore[method-assign,assignment]
    SignatureModel.create = classmethod(create_model)  # type: ignore[method-assign,assignment]


reuse_parsed_handler_signatures()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread from its
    first use to the end of the session, and no ``async`` test can run after that."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def builtin_plugins() -> list[object]:
    """The built-in plugins, imported as a test would name them explicitly."""
    import tulou_notices.plugin

    return [tulou_notices.plugin]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def pg_execute(sql: str) -> None:
    connection = await asyncpg.connect(urlunsplit(urlsplit(TEST_DATABASE)._replace(scheme="postgresql")))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def scrub_environment(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """No developer's TULOU_* variables or .env file leak into an app built afterwards."""
    for name in list(os.environ):
        if name.startswith("TULOU_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(directory)


def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its lightest, for tests about something other than hashing: at full cost
    every sign-in takes a tenth of a second or more on a busy machine."""
    from tulou.identity import passwords

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("not a password of anybody's, ever"))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    scrub_environment(monkeypatch, tmp_path)


@pytest.fixture(autouse=True)
def untranslated() -> Iterator[None]:
    """Each test starts with no catalogues installed, as a CLI command run in-process installs some."""
    from tulou import i18n

    token = i18n.current_locale.set(i18n.DEFAULT_LOCALE)
    i18n.install(i18n.Catalogs())
    yield
    i18n.install(i18n.Catalogs())
    i18n.current_locale.reset(token)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with every migration of the core and the built-in plugins applied."""
    if ON_POSTGRES:
        name = f"tulou_tpl_{uuid.uuid4().hex[:10]}"
        asyncio.run(pg_execute(f'CREATE DATABASE "{name}"'))
        url = with_database(TEST_DATABASE, name)
    else:
        url = f"sqlite://{tmp_path_factory.mktemp('template') / 'template.sqlite3'}"
    platform = build_platform(builtin_plugins(), database={"url": url})
    asyncio.run(apply_migrations(platform.db_config))
    yield url
    if ON_POSTGRES:
        asyncio.run(pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class DatabaseDropper:
    """Drops the tests' PostgreSQL databases on threads of their own.

    ``DROP DATABASE`` waits for a checkpoint: up to a second on a busy machine, which
    no test needs to wait for. Drops requested together share one checkpoint, so a
    few threads keep up with the suite; the session waits for the last at its end.
    """

    THREADS = 3

    def __init__(self) -> None:
        self._names: queue.Queue[str | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.THREADS)]
        for thread in self._threads:
            thread.start()

    def drop(self, name: str) -> None:
        self._names.put(name)

    def _work(self) -> None:
        while (name := self._names.get()) is not None:
            try:
                asyncio.run(pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as error:  # noqa: BLE001 - a database left behind is no test's failure
                print(f"could not drop test database {name}: {error}")

    def finish(self) -> None:
        for _ in self._threads:
            self._names.put(None)
        for thread in self._threads:
            thread.join()


_dropper: DatabaseDropper | None = None


def dropper() -> DatabaseDropper:
    global _dropper
    if _dropper is None:
        _dropper = DatabaseDropper()
    return _dropper


def pytest_sessionfinish() -> None:
    if _dropper is not None:
        _dropper.finish()


@contextmanager
def copy_of_template(template_database: str, directory: Path) -> Iterator[str]:
    """A fresh copy of the migrated template, dropped afterwards (in the background) on PostgreSQL."""
    if ON_POSTGRES:
        name = f"tulou_t_{uuid.uuid4().hex[:12]}"
        template = urlsplit(template_database).path.lstrip("/")
        asyncio.run(pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        yield with_database(TEST_DATABASE, name)
        dropper().drop(name)
    else:
        copy = directory / "tulou.sqlite3"
        shutil.copyfile(template_database.removeprefix("sqlite://"), copy)
        yield f"sqlite://{copy}"


@pytest.fixture
def database_url(template_database: str, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the migrated template for this test alone."""
    with copy_of_template(template_database, tmp_path) as url:
        yield url


def settings_for(database_url: str, directory: Path) -> dict[str, Any]:
    """Settings overrides every test app starts from, on ``database_url`` with files under ``directory``."""
    return {
        "database": {"url": database_url},
        "data_dir": directory / "data",
        "jobs": {"enabled": False},
        "web": {"module_cache_seconds": 0},
        "identity": {"encryption_keys": TEST_ENCRYPTION_KEYS, "blind_index_key": TEST_BLIND_INDEX_KEY},
    }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Settings overrides every test app starts from; tests may change them."""
    return settings_for(database_url, tmp_path)


@pytest.fixture
def make_app(settings: dict[str, Any]) -> Callable[..., Litestar]:
    """Build an app from an explicit plugin list (default: the built-in plugins)."""

    def make(plugins: list[object] | None = None, **overrides: Any) -> Litestar:
        return create_app(plugins=builtin_plugins() if plugins is None else plugins, **{**settings, **overrides})

    return make


class AppClient(httpx.AsyncClient):
    """An HTTP client for an app running on the test's own event loop.

    Litestar's ``AsyncTestClient`` runs the app on a second loop in another thread;
    Tortoise then opens a second connection for the test's own database calls and
    never closes the first, whose SQLite thread keeps pytest from exiting. Running
    the lifespan here keeps one loop and one connection.
    """

    def __init__(self, app: Litestar) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local")
        self.app = app
        self.admin_actor: str | None = None  # the audit actor of ``ADMIN``, once granted

    async def grant_test_admin(self, area_code: str) -> None:
        """Make the ``ADMIN`` header a county admin of ``area_code``, through the normal account path.

        A real account (``test-admin``, no usable password) bound to the built-in
        ``county_admin`` role, holding an access token whose hash is that of
        ``ADMIN_TOKEN``: the app has no backdoor for tests to use.
        """
        account, created = await Account.get_or_create(username=ADMIN_USERNAME, defaults={
            "password_hash": "!", "home_area_id": area_code,
        })
        role = await Role.get(name="county_admin")  # synced by the lifespan
        await RoleBinding.get_or_create(account=account, role=role, area_id=area_code, defaults={"created_by": "tests"})
        self.admin_actor = f"account:{account.id}"
        if created:
            await AccessToken.create(
                token_hash=token_hash(ADMIN_TOKEN), account=account, kind=TokenKind.ACCESS,
                expires_at=datetime(2999, 1, 1, tzinfo=timezone.utc), token_version=account.token_version,
            )


@asynccontextmanager
async def running_app(app: Litestar, demo: bool = True) -> AsyncIterator[AppClient]:
    """Run ``app``'s lifespan and yield a client for it, with the demo county and its admin if asked.

    The lifespan is entered and left in one task of its own, as its cancel scopes
    require, even when a fixture's set-up and tear-down run in different tasks.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold_lifespan() -> None:
        try:
            async with app.lifespan():
                started.set()
                await stop.wait()
        finally:
            started.set()

    lifespan = asyncio.create_task(hold_lifespan())
    await started.wait()
    if lifespan.done():
        lifespan.result()  # start-up failed: raise its error here
    try:
        async with AppClient(app) as client:
            if demo:
                await load_demo(app)
                await client.grant_test_admin(DEMO_COUNTY)
            yield client
    finally:
        stop.set()
        await lifespan


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AppClient]:
    """A client for an app with the built-in plugins and the demo county loaded."""
    async with running_app(make_app()) as test_client:
        yield test_client


async def load_demo(app: Litestar) -> None:
    from tulou.areas.demo import load_demo_county

    result = await load_demo_county(app.state.platform)
    assert not result.errors


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The tests' own Mosquitto, started once for every test that needs one (in-process apps and real servers)."""
    with mosquitto_broker(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running


@pytest.fixture(scope="session")
def session_prefix() -> str:
    """One broker session name for every Tulou of the run, as for the processes of one host: one that stopped
    while cut off from the broker leaves its session subscribed to the shared subscription, and the next must
    take it over rather than let it keep a share of the messages."""
    return f"tulou-test-{uuid.uuid4().hex[:8]}"
