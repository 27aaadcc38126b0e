"""The core's own scheduled jobs, run by the same leader and recorded like plugins' jobs."""

from __future__ import annotations

from datetime import timedelta

from tulou.jobs.job import Job

#: The owner name core jobs are recorded under (``tulou.<job id>``), which no plugin may take.
CORE = "tulou"


def core_jobs() -> list[Job]:
    from tulou.exchange.idempotency import purge_idempotency_keys  # jobs come before the exchange in the ring
    from tulou.identity.token_purge import purge_expired_tokens  # jobs come before identity in the ring

    return [
        Job(id="purge_expired_tokens", func=purge_expired_tokens, every=timedelta(hours=6), per_area=False),
        Job(id="purge_idempotency_keys", func=purge_idempotency_keys, every=timedelta(hours=1), per_area=False),
    ]
