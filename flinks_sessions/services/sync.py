"""Reconciliation: ask Flinks for a session's status and store it.

Webhooks are sent once, never retried, and never for Expired (REFERENCE.md, Webhooks), so polling ``/status``
is the only way a missed outcome is ever learnt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from flinks_sessions.client import get_client
from flinks_sessions.exceptions import FlinksError, FlinksNotFound
from flinks_sessions.models import PaymentSession
from flinks_sessions.services.transitions import ApplyOutcome, apply_locked, copy_state, lock, mark_not_found

logger = logging.getLogger("flinks_sessions.services")


class SyncOutcome(StrEnum):
    CHANGED = "changed"  # Flinks reported a new state; stored and announced
    UNCHANGED = "unchanged"  # the stored state was already right
    NOT_FOUND = "not_found"  # Flinks does not know the session; marked
    FAILED = "failed"  # Flinks could not be asked; recorded, the next sweep tries again
    SKIPPED = "skipped"  # the session was never confirmed by Flinks: nothing to ask about


@dataclass(frozen=True)
class SyncResult:
    outcome: SyncOutcome
    session: PaymentSession
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is not SyncOutcome.FAILED


def sync_session(session: PaymentSession) -> SyncResult:
    """Poll ``/status`` (outside any lock) and apply it with ``source="sync"``."""
    if session.session_id is None:
        return SyncResult(SyncOutcome.SKIPPED, session)
    now = timezone.now()
    try:
        remote = get_client(session.account).get_status(str(session.session_id))
    except FlinksNotFound as exc:
        with transaction.atomic():
            locked = lock(session.pk)
            mark_not_found(locked, source="sync", reason=str(exc), now=now)
        copy_state(locked, session)
        return SyncResult(SyncOutcome.NOT_FOUND, session, str(exc))
    except FlinksError as exc:
        message = str(exc)[:1000]
        with transaction.atomic():
            locked = lock(session.pk)
            locked.attempt_count += 1
            locked.last_error = message
            locked.last_error_at = now
            locked.save(update_fields=["attempt_count", "last_error", "last_error_at", "updated_at"])
        copy_state(locked, session)
        logger.warning("Syncing Flinks session %s failed: %s", session.session_id, message)
        return SyncResult(SyncOutcome.FAILED, session, message)
    with transaction.atomic():
        locked = lock(session.pk)
        applied = apply_locked(locked, remote, source="sync")
        locked.last_synced_at = now
        locked.save(update_fields=["last_synced_at", "updated_at"])
    copy_state(locked, session)
    changed = applied.outcome is ApplyOutcome.APPLIED
    return SyncResult(SyncOutcome.CHANGED if changed else SyncOutcome.UNCHANGED, session)
