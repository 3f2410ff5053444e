"""The sweeps as scheduled tasks, for a site that schedules with its task backend instead of cron."""

from __future__ import annotations

import logging

from flinks_sessions import services, tracing
from flinks_sessions.sweeps import recovery, run, summary
from flinks_sessions.sweeps.selection import SessionFilters, parse_duration, select_open
from flinks_sessions.tasks import task

logger = logging.getLogger("flinks_sessions.sweeps")


@task()
def sync_sessions_task(
    older_than: str | None = None, limit: int | None = None, concurrency: int = 4
) -> dict[str, int]:
    """The ``flinks_sync_sessions`` sweep as a task.

    ``older_than`` is a duration like ``"30m"``; returns the outcome counts (changed, unchanged, failed...).
    """
    filters = SessionFilters(older_than=parse_duration(older_than) if older_than else None, limit=limit)
    with tracing.span("task.sync_sessions"):
        done = run.run_many(list(select_open(filters)), services.sync_sessions, concurrency=concurrency)
    logger.info("sync sweep: %s", summary.describe_sync(done))
    return {**done.counts, "total": done.total}


@task()
def recover_sessions_task(limit: int | None = None, concurrency: int = 4) -> dict[str, int]:
    """The ``flinks_recover_sessions`` sweep as a task: the outcome counts (sent, already_sent, failed...)."""
    with tracing.span("task.recover_sessions"):
        sessions = recovery.select(limit=limit)
        done = run.run_many(sessions, services.send_recovery_notices, concurrency=concurrency)
    logger.info("recovery sweep: %s", recovery.describe_recovery(done))
    return {**done.counts, "total": done.total}
