"""Reconciliation: ask Flinks for a session's status and store it.

Each product is asked through the endpoint its own pages document (``services.products.STATUS_ROUTES``:
``/status`` for EFT v2 and GEFT, ``/details`` for e-Transfer).

Webhooks are sent once, never retried, and never for Expired (``docs/flinks-api.md``, "Webhooks"), so polling
Flinks is the only way a missed outcome is ever learnt. A sync takes no claim: it only reports what Flinks
says, and the state machine under the row lock makes a repeated or late report change nothing. The claim
engine (:mod:`~flinks_sessions.services.engine`) runs its call and its locked finish; :func:`sync_sessions` runs
them for many sessions on the one scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum

from flinks_sessions.client import FlinksClient, RemoteStatus
from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.services import pipeline
from flinks_sessions.services.engine import Action, Answer, Engine, Reply, Result
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.products import read_status
from flinks_sessions.services.transitions import ApplyOutcome, apply_locked

logger = logging.getLogger("flinks_sessions.services")


class SyncOutcome(StrEnum):
    CHANGED = "changed"  # Flinks reported a new state; stored and announced
    UNCHANGED = "unchanged"  # the stored state was already right
    NOT_FOUND = "not_found"  # Flinks does not know the session; marked
    FAILED = "failed"  # Flinks could not be asked; recorded, the next sweep tries again
    SKIPPED = "skipped"  # the session was never confirmed by Flinks: nothing to ask about


def sync_session(session: PaymentSession) -> Result[SyncOutcome]:
    """Ask Flinks (``/status`` or ``/details``, per product; outside any lock) and apply it with ``source="sync"``."""
    return pipeline.run_one(Engine(_Sync(Origin("sync"))), session)


def sync_sessions(
    sessions: Iterable[PaymentSession],
    *,
    concurrency: int = 8,
    on_result: Callable[[Result[SyncOutcome]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Result[SyncOutcome]]:
    """:func:`sync_session` for many, ``concurrency`` polls at a time; stops as :func:`pipeline.run` describes."""
    return pipeline.run(
        Engine(_Sync(Origin("sync"))),
        sessions,
        concurrency=concurrency,
        on_result=on_result,
        should_stop=should_stop,
    )


class _Sync(Action[SyncOutcome]):
    """A sync: no claim, one status call (``read_status``, per product), the engine's locked finish."""

    outcomes = SyncOutcome
    failure = SessionEvent.Kind.SYNC_FAILED
    finish_fields = ("last_synced_at",)

    def refuse(self, session: PaymentSession) -> Result[SyncOutcome] | None:
        return Result(SyncOutcome.SKIPPED, session) if session.session_id is None else None

    def call(self, client: FlinksClient, session: PaymentSession) -> RemoteStatus:
        return read_status(client, str(session.session_id), session.product)

    def store(self, locked: PaymentSession, answer: Answer, *, now: datetime) -> tuple[SyncOutcome, str]:
        if answer.reply is not Reply.ANSWERED:
            return SyncOutcome.FAILED, answer.error
        applied = apply_locked(locked, answer.value, self.origin)
        locked.last_synced_at = now
        return (SyncOutcome.CHANGED if applied.outcome is ApplyOutcome.APPLIED else SyncOutcome.UNCHANGED), ""
