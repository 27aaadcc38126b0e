"""The ``tulou`` command through its real door: a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from litestar import Litestar

from tests.conftest import ADMIN, DEMO_COUNTY, running_app
from tests.standards.schema_check import errors
from tests.standards.standard import Standard
from tulou.areas.codes import AreaLevel
from tulou.areas.models import Area
from tulou.exchange.demo import demo_dataset

EXCHANGE = Standard("exchange")
PLOTS = "agriculture.plots"


@pytest.fixture
def tulou(database_url: str, tmp_path: Path):  # noqa: ANN201 - returns a runner
    env = {**os.environ, "TULOU_DATABASE__URL": database_url, "TULOU_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, locale: str = "en") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tulou", *args],
            capture_output=True, text=True, env={**env, "TULOU_DEFAULT_LOCALE": locale}, timeout=120,
        )

    return run


def test_migrate_and_demo_are_safe_to_repeat(tulou) -> None:  # noqa: ANN001
    migrate = tulou("migrate")
    demo = tulou("demo")
    demo_again = tulou("demo")
    assert migrate.returncode == 0 and "0 migration(s) applied" in migrate.stdout
    assert demo.returncode == 0 and "16 area(s) created" in demo.stdout
    assert "20 demo organisation(s) created" in demo.stdout  # 5 county bodies, 3 governments, 12 committees
    assert "1 demo dataset(s) declared, 36 demo record(s) created" in demo.stdout
    assert demo_again.returncode == 0 and "0 area(s) created" in demo_again.stdout
    assert "0 demo organisation(s) created" in demo_again.stdout
    assert "0 demo dataset(s) declared, 0 demo record(s) created" in demo_again.stdout


async def test_the_demo_county_publishes_the_bureaus_plots_readable_as_agri_parcels(
    tulou, make_app: Callable[..., Litestar]  # noqa: ANN001
) -> None:
    """The bureau owns the plots county-wide; they spread over every village and read as NGSI-LD, once each."""
    assert tulou("demo").returncode == 0 and tulou("demo").returncode == 0
    async with running_app(make_app(plugins=[])) as client:
        dataset = (await client.get(f"/api/v1/datasets/{PLOTS}", headers=ADMIN)).json()
        assert (dataset["status"], dataset["owner"]["name"], dataset["manager"]["name"], dataset["area"]) == \
            ("published", "云溪县农业农村局", "云溪县农业农村局", DEMO_COUNTY)
        assert dataset["smart_data_model"] == "AgriParcel" and dataset["classification"] == "internal"
        parcels = await client.get(f"/api/v1/datasets/{PLOTS}/records/", params={"format": "ngsi-ld", "limit": 200},
                                   headers=ADMIN)
        assert parcels.status_code == 200, parcels.text
        assert len(parcels.json()) == 36 and all(errors(p, EXCHANGE.schema("ngsi-ld-entity")) == [] for p in parcels.json())
        villages = await Area.filter(level=AreaLevel.VILLAGE, name__endswith="村").values_list("code", flat=True)
        assert {parcel["areaServed"] for parcel in parcels.json()} == set(villages)
        feed = await client.get(f"/api/v1/datasets/{PLOTS}/changes", params={"limit": 1000}, headers=ADMIN)
        assert len(feed.json()["changes"]) == 36, "a second run writes nothing"


def test_the_demo_declares_the_standards_example_dataset() -> None:
    """The demo's plots are the data-exchange standard's example dataset, so the two cannot drift apart."""
    assert demo_dataset() == EXCHANGE.example("dataset-in.agriculture-plots.json")


def test_migrate_a_fresh_database(tmp_path: Path) -> None:
    env = {**os.environ, "TULOU_DATA_DIR": str(tmp_path / "fresh"), "TULOU_DEFAULT_LOCALE": "en"}
    env.pop("TULOU_DATABASE__URL", None)
    first = subprocess.run([sys.executable, "-m", "tulou", "migrate"], capture_output=True, text=True, env=env, timeout=120)
    second = subprocess.run([sys.executable, "-m", "tulou", "migrate"], capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0 and "applied tulou.0001_initial" in first.stdout
    assert second.returncode == 0 and "0 migration(s) applied" in second.stdout
    assert (tmp_path / "fresh" / "tulou.sqlite3").is_file()


def test_area_import_reports_bad_lines_and_writes_nothing(tulou, tmp_path: Path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\n350899000000,云溪县\n3508991X0000,坏\n350899100000,\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("\ufeffcode,name,name_en\n350899000000,云溪县,Yunxi\n350899100000,云溪镇,\n", encoding="utf-8")
    failed = tulou("areas", "import", str(bad))
    imported = tulou("areas", "import", str(good))
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "3" in failed.stderr.splitlines()[0] and "4" in failed.stderr.splitlines()[1]
    assert "nothing was written" in failed.stderr
    assert imported.returncode == 0 and "2 area(s) created" in imported.stdout


def test_messages_follow_the_default_locale(tulou) -> None:  # noqa: ANN001
    chinese = tulou("migrate", locale="zh_CN")
    assert chinese.returncode == 0 and "已应用 0 个迁移" in chinese.stdout


def test_missing_file_is_a_one_line_error(tulou) -> None:  # noqa: ANN001
    result = tulou("areas", "import", "/no/such/file.csv")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_plugins_list_shows_the_builtin_plugins(tulou) -> None:  # noqa: ANN001
    result = tulou("plugins", "list")
    assert result.returncode == 0
    assert any(line.startswith("notices") and "active" not in line and "loaded" in line for line in result.stdout.splitlines())
