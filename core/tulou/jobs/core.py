"""The core's own scheduled jobs, run by the same leader and recorded like plugins' jobs."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from tulou.jobs.job import Job

if TYPE_CHECKING:
    from tulou.platform import Platform

#: The owner name core jobs are recorded under (``tulou.<job id>``), which no plugin may take.
CORE = "tulou"


def core_jobs(platform: Platform) -> list[Job]:
    from tulou.devices.alert_watch import check_device_alerts  # jobs come before identity, exchange, devices in the ring
    from tulou.devices.retention import keep_telemetry
    from tulou.devices.status import check_device_status
    from tulou.exchange.idempotency import purge_idempotency_keys
    from tulou.identity.token_purge import purge_expired_tokens

    jobs = [
        Job(id="purge_expired_tokens", func=purge_expired_tokens, every=timedelta(hours=6), per_area=False),
        Job(id="purge_idempotency_keys", func=purge_idempotency_keys, every=timedelta(hours=1), per_area=False),
        Job(id="device_status", func=partial(check_device_status, platform), every=timedelta(minutes=1),
            per_area=False),
        Job(id="device_alerts", func=partial(check_device_alerts, platform), every=timedelta(minutes=1),
            per_area=False),
        Job(id="telemetry_upkeep", func=partial(keep_telemetry, platform), every=timedelta(minutes=5),
            per_area=False),
    ]
    if platform.settings.devices.mqtt.enabled:
        from tulou.devices.broker_accounts import BrokerAccounts

        accounts = BrokerAccounts(platform.settings.devices.mqtt)
        jobs.append(Job(id="device_broker_accounts", func=accounts.reconcile, every=timedelta(minutes=5),
                        per_area=False))
    return jobs
