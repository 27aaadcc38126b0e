"""``tulou serve``."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

import click
from granian.constants import Interfaces
from granian.server import Server
from litestar import Litestar

from tulou.cli.context import cli_platform
from tulou.i18n import gettext as _
from tulou.logs import logging_config

log = logging.getLogger(__name__)
#: The main process's id, handed to the workers it starts.
MAIN_PROCESS_VARIABLE = "_TULOU_SERVE_MAIN_PID"
PR_SET_PDEATHSIG = 1


@click.command()
@click.option("--host", default=None, help="address to bind (default TULOU_HOST)")
@click.option("--port", type=int, default=None, help="port (default TULOU_PORT, 8000)")
@click.option("--workers", type=int, default=None, help="worker processes (default TULOU_WEB__WORKERS)")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API with granian (chosen over uvicorn: about twice the requests/s here)."""
    settings = cli_platform().settings  # a bad setting stops here, in one line
    host = host or settings.host
    port = port or settings.port
    click.echo(_("Tulou serving on %(url)s (API docs: %(url)s/schema)") % {"url": f"http://{host}:{port}"})
    os.environ[MAIN_PROCESS_VARIABLE] = str(os.getpid())
    Server(
        "tulou.cli.serve:worker_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers or settings.web.workers,
        factory=True,
        log_access=False,
        log_dictconfig=logging_config(settings.log_level),
    ).serve()


def worker_app() -> Litestar:
    """The app of one granian worker, which first ties its life to the main process's."""
    end_with_main_process()
    from tulou.web.app import app_from_environment  # loaded in the workers, not by every tulou command

    return app_from_environment()


def end_with_main_process() -> None:
    """Have the kernel SIGKILL this worker when the main process dies (Linux).

    A main process killed with SIGKILL (``kill -9``, the OOM killer) cannot stop its
    workers, and they would go on serving its port, which granian opens with
    SO_REUSEPORT, beside the restarted server: answering with the code and settings
    they started with, and on SQLite holding the job leader's lock. The signal follows
    the thread that started the worker, granian's main thread, which lives as long as
    the main process serves.
    """
    main = os.environ.get(MAIN_PROCESS_VARIABLE)
    if main is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("a worker cannot follow the main process's death: %s", os.strerror(ctypes.get_errno()))
        return
    if os.getppid() != int(main):  # it died before the signal was asked for
        os.kill(os.getpid(), signal.SIGKILL)
