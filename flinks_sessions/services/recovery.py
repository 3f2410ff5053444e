"""Win back abandoned checkouts: one recovery notice per order, at most once, through the claim engine.

A session of a payer who consented (``start_session(recovery_consent=True)``, inherited by a restart) that ended
abandoned (expired, or cancelled by the beacon or a sweep), is the newest of its chain, and whose order
(reference and account) has no completed or open session, is *due* ``RECOVERY_DELAY`` seconds after it ended.
Its notice is the ``session_abandoned`` signal with the signed link (:mod:`.recovery_link`) and, with
``RECOVERY_EMAIL``, the app's own email (:mod:`.recovery_email`). The claim engine runs it
(:mod:`~flinks_sessions.services.engine`); what is the notice's own:

- the claim takes a due session (``recovery_claim``); in the same transaction it inserts the order's
  :class:`~flinks_sessions.models.RecoveryNotice`, whose unique constraint on the order is the dedupe key: of
  two sessions of one order, or two sweeps racing, one inserts it and only that one sends. A session that lost
  the order to another answers ``already_sent``, nothing sent.
- the call looks once more at the order (completed or started again since the claim: ``withdrawn``, nothing
  sent), then sends the signal and the email. It calls no Flinks endpoint.
- the finish records the notice ``sent`` (or ``failed``, with the error) and releases the claim.

The guarantee is **at most once** per order (README, "Guarantees"; ``docs/model/recovery.pml``): the notice row
is committed before anything is sent and is never sent again, whatever its state. A worker that dies between
the send and the record leaves it ``sending``, which the admin shows as not confirmed; it is never resent. For a
reminder a payer may find unwelcome, a lost notice is the better failure than a second one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from flinks_sessions import metrics
from flinks_sessions.client import FlinksClient
from flinks_sessions.conf import get_settings
from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services import pipeline
from flinks_sessions.services.engine import Action, Answer, Engine, Reply, Result
from flinks_sessions.services.origin import Origin
from flinks_sessions.services.recovery_email import send_recovery_email
from flinks_sessions.services.recovery_link import recovery_url
from flinks_sessions.signals import send_safely, session_abandoned
from flinks_sessions.status import OPEN_STATUSES, Source, Status

logger = logging.getLogger("flinks_sessions.services")

# Ended abandoned: expired at Flinks, or cancelled because the shopper left (the beacon) or a sweep ended it.
ABANDONED = Q(status=Status.EXPIRED) | Q(
    status=Status.CANCELLED, cancel_source__in=(Source.BEACON, Source.COMMAND)
)
LOST = "lost"  # the call's value for a session whose order's notice another claim inserted
WITHDRAWN = "withdrawn"  # the call's value for an order that went on between the claim and the send


class RecoveryOutcome(StrEnum):
    SENT = "sent"  # the order's one notice went out: the signal, and the email with RECOVERY_EMAIL
    ALREADY_SENT = "already_sent"  # the order has its notice already (in any state): nothing sent
    NO_CONSENT = "no_consent"  # the payer did not consent: never a notice
    NOT_DUE = "not_due"  # not (or not yet) due: ``error`` says why; nothing sent
    # the order completed or was started again between the claim and the send: nothing sent
    WITHDRAWN = "withdrawn"
    PENDING = "pending"  # another run is sending this session's notice right now
    NOT_FOUND = "not_found"  # kept for the engine's vocabulary; a notice calls no Flinks endpoint
    FAILED = "failed"  # the email could not be sent: recorded, never retried (at most once)


def _order() -> dict[str, Any]:
    """The order (reference and account) of the outer row, for a subquery."""
    return {"reference_id": OuterRef("reference_id"), "account": OuterRef("account")}


# Typed as Q: an EXISTS combines with Q objects as one (django-stubs types the combination more loosely).
def went_on() -> Q:
    """The order of the row completed, or has a session Flinks could still act on (or one being created)."""
    same_order = PaymentSession.objects.filter(**_order())
    return Exists(same_order.filter(status__in=(Status.COMPLETED, *OPEN_STATUSES)))  # type: ignore[return-value]


def has_notice() -> Q:
    """The order of the row has its recovery notice (in any state)."""
    return Exists(RecoveryNotice.objects.filter(**_order()))  # type: ignore[return-value]


def due_condition(*, ended_before: datetime, started_after: datetime | None = None) -> Q:
    """Sessions whose order is due a recovery notice (the claim's condition, the sweep's selection).

    Only sessions started after ``started_after`` (by default ``RECOVERY_LINK_MAX_AGE`` before ``ended_before``):
    a reminder of an order older than its link would live is no use, and the bound keeps each sweep on the
    recent rows of the (status, created_at) index however long the history.
    """
    if started_after is None:
        started_after = ended_before - timedelta(seconds=get_settings().recovery_link_max_age)
    successor = PaymentSession.objects.filter(restarted_from=OuterRef("pk"))
    return (
        ABANDONED
        & Q(recovery_consent=True, session_id__isnull=False, created_at__gt=started_after)
        & ended_by(ended_before)
        & ~Exists(successor)
        & ~went_on()
        & ~has_notice()
    )


def ended_by(moment: datetime) -> Q:
    """Ended before ``moment``, as far as the row says: its cancel, or its last change (an expiry)."""
    return Q(cancelled_at__lt=moment) | Q(cancelled_at__isnull=True, updated_at__lt=moment)


def ended_before() -> datetime:
    return timezone.now() - timedelta(seconds=get_settings().recovery_delay)


def due_sessions(**filters: Any) -> list[PaymentSession]:
    """The sessions a sweep sends notices for, the newest per order, oldest first; ``filters`` narrow them."""
    rows = PaymentSession.objects.filter(**filters).filter(due_condition(ended_before=ended_before()))
    rows = rows.annotate(ended=Coalesce("cancelled_at", "updated_at"))
    chosen: dict[tuple[str, str], PaymentSession] = {}
    for session in rows.order_by("-ended", "-pk"):
        chosen.setdefault((session.reference_id, session.account), session)
    return sorted(
        chosen.values(), key=lambda session: (session.cancelled_at or session.updated_at, session.pk)
    )


def send_recovery_notices(
    sessions: Iterable[PaymentSession] | None = None,
    *,
    source: str = "command",
    concurrency: int = 4,
    on_result: Callable[[Result[RecoveryOutcome]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Result[RecoveryOutcome]]:
    """Send the recovery notice of each due order among ``sessions`` (all due ones when ``None``), once each.

    A session that is not due answers why (``no_consent``, ``not_due``, ``already_sent``); however many runs race
    over the same orders, each order is sent one notice at most. Must not run inside ``atomic()`` to send
    anything: other runs could not see its claims.
    """
    origin = Origin(source)
    chosen = due_sessions() if sessions is None else list(sessions)
    engine = Engine(_Notice(origin))
    return pipeline.run(engine, chosen, concurrency=concurrency, on_result=on_result, should_stop=should_stop)


def not_due_reason(session: PaymentSession) -> str:
    """Why ``session`` is not due a notice now (for a session no claim took), or ``""`` when it is: the first
    of the due condition's parts it fails, in the order an operator would look."""
    if not session.recovery_consent:
        return "the payer did not consent to a recovery notice"
    rows = PaymentSession.objects.filter(pk=session.pk)
    moment = ended_before()
    reasons = (
        (~ABANDONED, "the session did not end abandoned"),
        (went_on(), "the order completed or has an open session"),
        (
            Exists(PaymentSession.objects.filter(restarted_from=OuterRef("pk"))),
            "the session was started again",
        ),
        (~ended_by(moment), "RECOVERY_DELAY has not passed since it ended"),
        (~due_condition(ended_before=moment), "it started longer ago than RECOVERY_LINK_MAX_AGE"),
    )
    return next((reason for condition, reason in reasons if rows.filter(condition).exists()), "")


class _Notice(Action[RecoveryOutcome]):
    """What is the recovery notice's own in the claim protocol; the engine does the rest."""

    name = "recovery"
    outcomes = RecoveryOutcome

    def __init__(self, origin: Origin) -> None:
        super().__init__(origin)
        self.ended_before = ended_before()
        self.lost: set[int] = set()
        self.claims: dict[int, uuid.UUID] = {}

    def refuse(self, session: PaymentSession) -> Result[RecoveryOutcome] | None:
        if not session.recovery_consent:
            return Result(RecoveryOutcome.NO_CONSENT, session)
        return None

    def claimable(self) -> Q:
        return due_condition(ended_before=self.ended_before)

    def claimed(self, sessions: list[PaymentSession]) -> None:
        """The order's notice row, inserted with the claim: the unique order lets one claim in, whatever races."""
        now = timezone.now()
        claims = {session.pk: session.recovery_claim for session in sessions if session.recovery_claim}
        self.claims.update(claims)
        RecoveryNotice.objects.bulk_create(
            [
                RecoveryNotice(
                    account=session.account,
                    reference_id=session.reference_id,
                    session=session,
                    claim=claims[session.pk],
                    claimed_at=now,
                )
                for session in sessions
            ],
            ignore_conflicts=True,
        )
        ours = set(
            RecoveryNotice.objects.filter(claim__in=set(claims.values()), session__in=sessions).values_list(
                "session_id", flat=True
            )
        )
        self.lost.update(session.pk for session in sessions if session.pk not in ours)

    def why_not(self, session: PaymentSession) -> Result[RecoveryOutcome]:
        if RecoveryNotice.objects.filter(reference_id=session.reference_id, account=session.account).exists():
            return Result(RecoveryOutcome.ALREADY_SENT, session)
        if session.recovery_claimed_at is not None:
            return Result(RecoveryOutcome.PENDING, session)
        if not session.recovery_consent:
            return Result(RecoveryOutcome.NO_CONSENT, session)
        return Result(RecoveryOutcome.NOT_DUE, session, not_due_reason(session) or "not due")

    def call(self, client: FlinksClient, session: PaymentSession) -> Any:
        """Send, unless another claim has the order or the order went on since the claim."""
        if session.pk in self.lost:
            return Answer(Reply.REFUSED, LOST, "another run has this order's notice")
        if PaymentSession.objects.filter(pk=session.pk).filter(went_on()).exists():
            return Answer(Reply.REFUSED, WITHDRAWN, "the order completed or was started again")
        url = recovery_url(session)
        emailed = bool(get_settings().recovery_email and session.start_params.get("payor", {}).get("email"))
        send_safely(session_abandoned, PaymentSession, session=session, url=url, emailed=emailed)
        if emailed:
            send_recovery_email(session, url)
        return Answer(Reply.ANSWERED, emailed)

    def store(self, locked: PaymentSession, answer: Answer, *, now: datetime) -> tuple[RecoveryOutcome, str]:
        notice = RecoveryNotice.objects.filter(session=locked, claim=self.claims[locked.pk])
        if answer.reply is Reply.ANSWERED:
            notice.update(state=RecoveryNotice.State.SENT, sent_at=now, emailed=bool(answer.value))
            metrics.RECOVERY.labels(event="notice_sent").inc()
            logger.info(
                "Sent the recovery notice of order %s (session %s)", locked.reference_id, locked.session_id
            )
            return RecoveryOutcome.SENT, ""
        if answer.value == LOST:
            return RecoveryOutcome.ALREADY_SENT, ""
        if answer.value == WITHDRAWN:
            notice.update(state=RecoveryNotice.State.WITHDRAWN)
            return RecoveryOutcome.WITHDRAWN, ""
        notice.update(state=RecoveryNotice.State.FAILED, error=answer.error[:1000])
        return RecoveryOutcome.FAILED, answer.error


# --- the link's page (api/recover.py) -------------------------------------------------------------------------


def order_completed(session: PaymentSession) -> bool:
    """Whether ``session``'s order was paid (by any of its sessions)."""
    return PaymentSession.objects.filter(
        reference_id=session.reference_id, account=session.account, status=Status.COMPLETED
    ).exists()


def landing_of(session: PaymentSession) -> PaymentSession | None:
    """Where a used link lands: the successor it made, else a session of the order still open; ``None``."""
    successor = PaymentSession.objects.filter(restarted_from_id=session.pk).first()
    if successor is not None:
        return successor
    return (
        PaymentSession.objects.open()
        .filter(reference_id=session.reference_id, account=session.account)
        .order_by("-created_at", "-pk")
        .first()
    )


def record_link_used(session: PaymentSession) -> None:
    """The payer pressed Continue: the order's notice was opened (a GET records nothing)."""
    RecoveryNotice.objects.filter(
        reference_id=session.reference_id, account=session.account, opened_at__isnull=True
    ).update(opened_at=timezone.now())
    metrics.RECOVERY.labels(event="link_used").inc()
