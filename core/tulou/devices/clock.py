"""The time the device registry goes by, which tests replace to drive heartbeats and silences."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


_current: Clock = SystemClock()


def now() -> datetime:
    """What time it is for ingest, the status job and provisioning keys."""
    return _current.now()


@contextmanager
def using_clock(clock: Clock) -> Iterator[Clock]:
    """Let ``clock`` tell the time inside the block, in this whole process."""
    global _current
    previous, _current = _current, clock
    try:
        yield clock
    finally:
        _current = previous
