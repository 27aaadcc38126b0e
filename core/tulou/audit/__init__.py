"""The append-only, hash-chained audit log: who did what to whose data, where and why.

Services call :func:`tulou.audit.service.record_audit` inside the transaction of the
action they audit, so the action and its entry commit or roll back together.
"""
