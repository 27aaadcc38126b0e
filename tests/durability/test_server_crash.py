"""Kill -9 of ``tulou serve``'s main process alone: its workers end with it, and a restart serves alone.

granian's workers share the main process's port. Left running after it died, they
would go on answering with whatever code and settings they started with, and on
SQLite hold the job leader's lock, so that the restarted server would never run
jobs nor send subscription events.
"""

from __future__ import annotations

import pytest

from tests.serverprocess import TulouServer, eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def server_settings() -> dict[str, str]:
    return {"TULOU_WEB__WORKERS": "2"}


async def test_the_workers_of_a_killed_main_process_stop_too(server: TulouServer, admin: dict[str, str]) -> None:
    workers = server.kill_main_process()
    assert len(workers) == 2
    await eventually(lambda: not server.running(), 10, "the orphaned workers stopped")

    server.start()
    assert server.get("/api/v1/organisations/", headers=admin).status_code == 200
