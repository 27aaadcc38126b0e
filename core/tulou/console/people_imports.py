"""Importing a residents list from the console: the command line's import, run in the background, watched by polling.

Why a background task: checking a county's list of ten thousand rows takes seconds
(every resident ID parsed and hashed), and a browser that only waits cannot tell a
slow import from a stuck one. The upload is saved to a temporary file and handed to
:func:`tulou.identity.people_import.import_people`, the same function (same checks,
same all-or-nothing write, same audit entries) as ``tulou people import``, with the
uploader as the principal, so her areas bound the villages. The page then polls the
job (htmx, every second) for the rows checked so far, and shows the report when done.

Jobs live in the memory of the web process that took the upload, for an hour after
they end. With several web workers (``TULOU_WEB__WORKERS``) a poll answered by
another worker finds no job and says so; the import itself still completes, and
its result is in the audit log and the people list. Nothing is half-written either
way: the write is one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path

from tulou.errors import Invalid, NotFound, Problem
from tulou.i18n import gettext as _
from tulou.identity.crypto import PersonalDataCipher
from tulou.identity.people_import import PeopleImport, import_people
from tulou.identity.people_sheet import CSV_SUFFIXES, EXCEL_SUFFIXES
from tulou.identity.tags import TagVocabulary
from tulou.security.principal import Principal

log = logging.getLogger("tulou.console")
KEPT_FOR = timedelta(hours=1)
#: Bad rows listed on the page; the rest are counted (a list that bad is best fixed in Excel and sent again).
ERRORS_SHOWN = 200
#: The import takes residents and their households: both permissions, in the same areas.
PERMISSIONS = ("person:write", "household:write")


class JobState(str, Enum):
    CHECKING = "checking"
    DONE = "done"
    FAILED = "failed"


@dataclass
class PeopleImportJob:
    """One upload being imported, as its page shows it."""

    id: str
    owner: str
    filename: str
    skip_invalid: bool
    state: JobState = JobState.CHECKING
    checked: int = 0
    expected: int | None = None
    result: PeopleImport | None = None
    error: str | None = None
    ended_at: datetime | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def percent(self) -> int | None:
        if not self.expected:
            return None
        return min(99, self.checked * 100 // self.expected) if self.state is JobState.CHECKING else 100

    def advance(self, checked: int, expected: int | None) -> None:
        self.checked, self.expected = checked, expected


def importer_of(principal: Principal) -> Principal:
    """The caller seen only where it holds every permission the import needs."""
    for permission in PERMISSIONS:
        principal = principal.narrowed_to(permission)
    return principal


def saved_upload(filename: str, content: bytes) -> Path:
    """The upload in a temporary file with its suffix, which says how to read it; other kinds are refused."""
    suffix = Path(filename).suffix.lower()
    if suffix not in EXCEL_SUFFIXES | CSV_SUFFIXES:
        raise Invalid(_("Upload an Excel workbook (.xlsx) or a CSV file"), field="file")
    if not content:
        raise Invalid(_("The file is empty"), field="file")
    with tempfile.NamedTemporaryFile(prefix="tulou-people-", suffix=suffix, delete=False) as handle:
        handle.write(content)
    return Path(handle.name)


class PeopleImports:
    """The imports this web process runs, each visible to its uploader only."""

    def __init__(self) -> None:
        self._jobs: dict[str, PeopleImportJob] = {}

    def start(self, principal: Principal, cipher: PersonalDataCipher, tags: TagVocabulary, filename: str,
              content: bytes, *, skip_invalid: bool) -> PeopleImportJob:
        self._forget_old()
        path = saved_upload(filename, content)
        job = PeopleImportJob(id=secrets.token_urlsafe(12), owner=principal.id, filename=filename,
                              skip_invalid=skip_invalid)
        job.task = asyncio.create_task(self._run(job, path, cipher, tags, importer_of(principal)))
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str, principal: Principal) -> PeopleImportJob:
        """The caller's own job; anyone else's, or one this process does not know, is 404."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != principal.id:
            raise NotFound(_("This import is not known here. It may have ended more than an hour ago; "
                             "its residents, if written, are in the people list."), field="job")
        return job

    async def _run(self, job: PeopleImportJob, path: Path, cipher: PersonalDataCipher, tags: TagVocabulary,
                   principal: Principal) -> None:
        try:
            job.result = await import_people(path, cipher, tags, principal, skip_invalid=job.skip_invalid,
                                             progress=job.advance)
            job.checked = len(job.result.rows)
            job.state = JobState.DONE
        except Problem as refused:
            job.error, job.state = refused.detail, JobState.FAILED
        except Exception:
            log.exception("people import %s failed", job.id)
            job.error, job.state = _("The import failed; nothing was written. The error has been logged."), JobState.FAILED
        finally:
            job.ended_at = datetime.now(timezone.utc)
            path.unlink(missing_ok=True)

    def _forget_old(self) -> None:
        cutoff = datetime.now(timezone.utc) - KEPT_FOR
        for job_id in [key for key, job in self._jobs.items() if job.ended_at and job.ended_at < cutoff]:
            del self._jobs[job_id]

    async def close(self) -> None:
        """At shutdown: an import still checking is abandoned (it writes in one transaction, so nothing half-done)."""
        running = [job.task for job in self._jobs.values() if job.task is not None and not job.task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
