"""Reading and changing a ``.env`` settings file: the lines named change, every other line stays.

The file holds secrets, so it is replaced atomically (a crash leaves the old file or
the new one, never half of either) and left readable by its owner only.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import suppress
from pathlib import Path

ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def read_lines(path: Path) -> list[str]:
    """The file's lines, or none when it does not exist yet."""
    return path.read_text().splitlines() if path.is_file() else []


def assignments(lines: list[str], name: str) -> list[tuple[int, str]]:
    """Each line that sets ``name``, as (line index, unquoted value).

    Names compare case-insensitively, as the settings read them; comments do not count.
    """
    found = []
    for number, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match and match.group(1).upper() == name.upper():
            found.append((number, _unquoted(match.group(2))))
    return found


def _unquoted(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw.split(" #", 1)[0].strip()


def with_values(lines: list[str], values: dict[str, str]) -> list[str]:
    """The lines with each name set to its value: its one assignment rewritten, or a line appended.

    The caller makes sure no name is set twice.
    """
    changed = list(lines)
    for name, value in values.items():
        found = assignments(changed, name)
        if found:
            changed[found[0][0]] = f"{name}={value}"
        else:
            changed.append(f"{name}={value}")
    return changed


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` beside ``path``, then rename it over ``path``: mode 0600, owner kept.

    A symbolic link stays one: the file it points to is the one replaced.
    """
    path = path.resolve()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        if path.exists():
            _take_owner(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _take_owner(original: Path, replacement: str) -> None:
    """Give the new file the old one's owner and group (root:tulou in production), where allowed."""
    status = original.stat()
    with suppress(PermissionError):
        os.chown(replacement, status.st_uid, status.st_gid)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
