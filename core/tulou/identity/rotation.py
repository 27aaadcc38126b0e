"""Re-encrypting stored personal data under the active key, so that old keys can leave the ring.

Rotation has two steps: a new key becomes active (new writes use it at once), then
:func:`reencrypt` rewrites every token still under an older key. It works a batch of
rows at a time, each batch in its own transaction with its audit entry, and writes a
row only if it still holds the token that was read: an edit made meanwhile through
the API wins. Which keys may leave the ring is then found by reading every token
again, not inferred from what was rewritten.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.audit.service import record_audit
from tulou.identity.crypto import (
    EncryptedColumn,
    PersonalDataCipher,
    UnreadableToken,
    token_key_id,
)
from tulou.identity.people import ENCRYPTED_COLUMNS

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class StoredToken:
    """Which token: a row, by primary key, of the column sealed to ``context``; never its value."""

    context: str
    row_id: int


@dataclass
class RotationReport:
    """What :func:`reencrypt` did (or would do, on a dry run) and which keys tokens still use."""

    active_key: str
    dry_run: bool = False
    reencrypted: Counter[str] = field(default_factory=Counter)
    """Tokens moved to the active key, by the key they were under."""
    changed_meanwhile: list[StoredToken] = field(default_factory=list)
    """Rows edited or deleted between the read and the write: left as the other writer left them."""
    unreadable: list[StoredToken] = field(default_factory=list)
    tokens_by_key: Counter[str] = field(default_factory=Counter)
    """Every stored token by key id, read after the run."""

    def removable_keys(self, ring: Iterable[str]) -> list[str]:
        """The ring's keys that no stored token uses: safe to remove (never the active key)."""
        return sorted(set(ring) - set(self.tokens_by_key) - {self.active_key})


@dataclass(frozen=True)
class _Rewrite:
    row_id: int
    old_token: str
    new_token: str
    old_key: str


async def count_tokens(columns: Sequence[EncryptedColumn] = ENCRYPTED_COLUMNS) -> int:
    """How many tokens are stored in all: the length of a re-encryption run, for its progress."""
    return sum([await _stored(column).count() for column in columns])


async def reencrypt(
    cipher: PersonalDataCipher,
    *,
    columns: Sequence[EncryptedColumn] = ENCRYPTED_COLUMNS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    actor: str = "cli",
    progress: Callable[[int], object] | None = None,
) -> RotationReport:
    """Move every stored token that is not under the active key to it; safe to run again.

    Unreadable tokens are reported and skipped, not fatal. ``progress`` is called with
    the number of rows read after each batch.
    """
    report = RotationReport(cipher.active_key, dry_run)
    for column in columns:
        async for rows in _batches(column, batch_size):
            await _reencrypt_batch(cipher, column, rows, report, actor)
            if progress is not None:
                progress(len(rows))
    report.tokens_by_key = await tokens_by_key(columns, batch_size)
    return report


async def _reencrypt_batch(
    cipher: PersonalDataCipher,
    column: EncryptedColumn,
    rows: list[tuple[int, str]],
    report: RotationReport,
    actor: str,
) -> None:
    """Re-encrypt one batch (only count it, on a dry run) and add the outcome to the report."""
    unreadable_before = len(report.unreadable)
    rewrites = _plan(cipher, column, rows, report)
    stale: set[int] = set()
    if rewrites and not report.dry_run:
        unreadable = len(report.unreadable) - unreadable_before
        stale = await _write(cipher, column, rewrites, unreadable, actor)
    written = [rewrite for rewrite in rewrites if rewrite.row_id not in stale]
    report.reencrypted.update(rewrite.old_key for rewrite in written)
    report.changed_meanwhile.extend(StoredToken(column.context, row) for row in sorted(stale))


async def tokens_by_key(
    columns: Sequence[EncryptedColumn] = ENCRYPTED_COLUMNS, batch_size: int = DEFAULT_BATCH_SIZE
) -> Counter[str]:
    """How many stored tokens name each key id, keys missing from the ring included."""
    usage: Counter[str] = Counter()
    for column in columns:
        async for rows in _batches(column, batch_size):
            for _row_id, token in rows:
                with suppress(UnreadableToken):  # not a token at all: no key can read it
                    usage[token_key_id(token)] += 1
    return usage


def _stored(column: EncryptedColumn) -> QuerySet[Model]:
    return column.model.filter(**{f"{column.column}__isnull": False})


async def _batches(
    column: EncryptedColumn, batch_size: int
) -> AsyncIterator[list[tuple[int, str]]]:
    """(primary key, token) of each stored token, a batch at a time in key order."""
    pk = column.model._meta.pk_attr
    stored = _stored(column).order_by(pk)
    after: int | None = None
    while True:
        query = stored if after is None else stored.filter(**{f"{pk}__gt": after})
        rows = await query.limit(batch_size).values_list(pk, column.column)
        if rows:
            yield rows
        if len(rows) < batch_size:
            return
        after = rows[-1][0]


def _plan(
    cipher: PersonalDataCipher,
    column: EncryptedColumn,
    rows: list[tuple[int, str]],
    report: RotationReport,
) -> list[_Rewrite]:
    """The new token of each row not under the active key; unreadable rows go to the report."""
    rewrites = []
    for row_id, token in rows:
        try:
            if not cipher.needs_rotation(token):
                continue
            plaintext = cipher.decrypt(token, column.context)
        except UnreadableToken:
            report.unreadable.append(StoredToken(column.context, row_id))
            continue
        new_token = cipher.encrypt(plaintext, column.context)
        rewrites.append(_Rewrite(row_id, token, new_token, token_key_id(token)))
    return rewrites


async def _write(
    cipher: PersonalDataCipher,
    column: EncryptedColumn,
    rewrites: list[_Rewrite],
    unreadable: int,
    actor: str,
) -> set[int]:
    """Write a batch and its audit entry in one transaction, leaving alone rows that changed.

    Each update is a compare-and-set on the token read, so it cannot undo an edit made
    since. The ids of the rows it did not write are returned. The entry holds counts and
    key ids only.
    """
    pk = column.model._meta.pk_attr
    stale = set()
    async with in_transaction():
        for rewrite in rewrites:
            unchanged = {pk: rewrite.row_id, column.column: rewrite.old_token}
            still_there = column.model.filter(**unchanged)
            if not await still_there.update(**{column.column: rewrite.new_token}):
                stale.add(rewrite.row_id)
        written = [rewrite for rewrite in rewrites if rewrite.row_id not in stale]
        await record_audit(
            actor, "identity.reencrypted",
            detail={
                "column": column.context,
                "to_key": cipher.active_key,
                "from_keys": dict(sorted(Counter(write.old_key for write in written).items())),
                "reencrypted": len(written),
                "changed_meanwhile": len(stale),
                "unreadable": unreadable,
            },
        )
    return stale
