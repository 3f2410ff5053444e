"""Reconciliation: ask Flinks for a session's status and store it.

Each product is asked through the endpoint its own pages document (``services.products.STATUS_ROUTES``:
``/status`` for EFT v2 and GEFT, ``/details`` for e-Transfer).

Webhooks are sent once, never retried, and never for Expired (``docs/flinks-api.md``, "Webhooks"), so polling
Flinks is the only way a missed outcome is ever learnt. A sync takes no claim: it only reports what Flinks
says, and the state machine under the row lock makes a repeated or late report change nothing.
:func:`sync_sessions` runs the same stages for many sessions on the one scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from flinks_sessions.client import FlinksClient, RemoteStatus
from flinks_sessions.exceptions import FlinksError, FlinksNotFound
from flinks_sessions.log_context import session_extra
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import pipeline
from flinks_sessions.services.accounts import Clients, describe_error
from flinks_sessions.services.products import read_status
from flinks_sessions.services.transitions import (
    ApplyOutcome,
    apply_locked,
    copy_state,
    lock,
    mark_not_found,
    record_failure,
)

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
    """Ask Flinks (``/status`` or ``/details``, per product; outside any lock) and apply it with ``source="sync"``."""
    return pipeline.run_one(_SyncEngine(), session)


def sync_sessions(
    sessions: Iterable[PaymentSession],
    *,
    concurrency: int = 8,
    on_result: Callable[[SyncResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[SyncResult]:
    """:func:`sync_session` for many, ``concurrency`` polls at a time; stops as :func:`pipeline.run` describes."""
    return pipeline.run(
        _SyncEngine(), sessions, concurrency=concurrency, on_result=on_result, should_stop=should_stop
    )


@dataclass(frozen=True)
class _Poll:
    session: PaymentSession
    client: FlinksClient


@dataclass(frozen=True)
class _Reply:
    remote: RemoteStatus | None = None
    not_found: bool = False
    error: str = ""


class _SyncEngine:
    """The stages of a sync: nothing to claim but the client, one ``/status`` call, a locked finish per row."""

    def __init__(self) -> None:
        self.clients = Clients()

    def claim(self, sessions: list[PaymentSession]) -> tuple[list[_Poll], list[SyncResult]]:
        ready: list[_Poll] = []
        early: list[SyncResult] = []
        for session in sessions:
            if session.session_id is None:
                early.append(SyncResult(SyncOutcome.SKIPPED, session))
                continue
            client = self.clients.get(session.account)
            if isinstance(client, FlinksClient):
                ready.append(_Poll(session, client))
            else:
                early.append(SyncResult(SyncOutcome.FAILED, session, str(client)))
        return ready, early

    def claim_failed(self, session: PaymentSession, error: Exception) -> SyncResult:
        return SyncResult(SyncOutcome.FAILED, session, describe_error(error))

    def call(self, poll: _Poll) -> _Reply:
        session_id = str(poll.session.session_id)
        try:
            return _Reply(remote=read_status(poll.client, session_id, poll.session.product))
        except FlinksNotFound as exc:
            return _Reply(not_found=True, error=str(exc))
        except FlinksError as exc:
            return _Reply(error=str(exc))
        except Exception as exc:
            logger.exception(
                "Syncing Flinks session %s raised",
                session_id,
                extra=session_extra(poll.session, source="sync", outcome="failed"),
            )
            return _Reply(error=describe_error(exc))

    def finish(self, done: list[tuple[_Poll, _Reply]]) -> list[SyncResult]:
        return [self._store(poll.session, reply) for poll, reply in done]

    def _store(self, session: PaymentSession, reply: _Reply) -> SyncResult:
        now = timezone.now()
        try:
            with transaction.atomic():
                locked = lock(session.pk)
                if reply.remote is not None:
                    applied = apply_locked(locked, reply.remote, source="sync")
                    locked.last_synced_at = now
                    locked.save(update_fields=["last_synced_at", "updated_at"])
                elif reply.not_found:
                    mark_not_found(locked, source="sync", reason=reply.error, now=now)
                else:
                    record_failure(locked, SessionEvent.Kind.SYNC_FAILED, reply.error, source="sync", now=now)
            copy_state(locked, session)
        except Exception as exc:
            logger.exception(
                "Could not store the sync of Flinks session %s",
                session.session_id,
                extra=session_extra(session, source="sync", outcome="failed"),
            )
            return SyncResult(SyncOutcome.FAILED, session, describe_error(exc))
        if reply.remote is not None:
            changed = applied.outcome is ApplyOutcome.APPLIED
            return SyncResult(SyncOutcome.CHANGED if changed else SyncOutcome.UNCHANGED, session)
        if reply.not_found:
            return SyncResult(SyncOutcome.NOT_FOUND, session, reply.error)
        logger.warning(
            "Syncing Flinks session %s failed: %s",
            session.session_id,
            reply.error,
            extra=session_extra(session, source="sync", outcome="failed"),
        )
        return SyncResult(SyncOutcome.FAILED, session, reply.error)
