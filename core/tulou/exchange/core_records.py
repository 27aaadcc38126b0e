"""Records the core itself writes into a dataset it declared (device alerts), on the same path as staff writes.

There is no caller to check: the core writes in the transaction of the change the
record reports, takes the dataset's turn, validates against the latest minor of the
major it writes, and records the change, so the change feed and the subscribers'
outbox get it exactly as they get a staff write. The dataset must be published
(the county named its owner, manager and area) and the record's area lie within it;
otherwise nothing is written, as no one may write a draft or retired dataset.
"""

from __future__ import annotations

import logging
from typing import Any

from tulou.areas.codes import is_within
from tulou.exchange.feed import Written, record_changes, take_turn
from tulou.exchange.models import ChangeOp, Dataset, DatasetStatus, Record
from tulou.exchange.validation import record_errors
from tulou.exchange.versions import latest_version, validator_of

log = logging.getLogger(__name__)


async def _open_for(dataset_id: str, area: str) -> bool:
    dataset = await Dataset.get_or_none(id=dataset_id)
    return (dataset is not None and dataset.status is DatasetStatus.PUBLISHED and dataset.area_id is not None
            and is_within(area, dataset.area_id))


async def put_core_record(dataset_id: str, major: int, key: str, area: str, data: dict[str, Any], actor: str) -> bool:
    """Inside the caller's transaction: create the record ``key`` or write its next version; whether it was written.

    A record that does not match the schema is logged and left out: the county may have
    given the dataset a version the core does not know, and the change it reports stands.
    """
    if not await _open_for(dataset_id, area):
        return False
    version = await latest_version(dataset_id, major)
    errors = record_errors(validator_of(version), data)
    if errors:
        log.error("record %s of %s left out, it does not match version %s.%s: %s",
                  key, dataset_id, version.major, version.minor, errors[0])
        return False
    await take_turn(dataset_id)
    record = await Record.get_or_none(dataset_id=dataset_id, major=major, key=key)
    if record is None:
        record = await Record.create(dataset_id=dataset_id, key=key, major=major, minor=version.minor, area_id=area,
                                     data=data, created_by=actor, updated_by=actor)
        op = ChangeOp.CREATE
    else:
        record.update_from_dict({"data": data, "minor": version.minor, "deleted": False, "version": record.version + 1,
                                 "updated_by": actor})
        await record.save()
        op = ChangeOp.UPDATE
    await record_changes(dataset_id, [Written.of(op, record)], actor)
    return True
