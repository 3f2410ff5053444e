"""The app's tables: the session (owns its status), its audit trail, the raw webhook log, the recovery notices.

Only :mod:`flinks_sessions.services` changes a session's status; the model answers questions about itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from flinks_sessions.status import OPEN_STATUSES, TERMINAL_STATUSES, Product, Source, Status, label_of

# Sessions Flinks could still act on: known to Flinks, not ended, not reported unknown by Flinks.
OPEN = Q(session_id__isnull=False, not_found_at__isnull=True, status__in=OPEN_STATUSES)
# A failed cancel: a cancel was asked for and its last call to Flinks failed. Only a failed *cancel* counts (a
# failed sync or guarantee call is kept in ``last_error`` but is not one); for aggregates and filters alike.
FAILED_CANCEL = Q(cancel_requested_at__isnull=False, cancel_failed_at__isnull=False)


def free_of_claim(column: str, *, stale_before: datetime | None) -> Q:
    """Rows whose claim time ``column`` holds no live claim: none taken, or one taken before ``stale_before``
    (its worker died or stalled; ``None``: a claim never goes stale)."""
    free = Q(**{f"{column}__isnull": True})
    return free if stale_before is None else free | Q(**{f"{column}__lt": stale_before})


class PaymentSessionQuerySet(models.QuerySet["PaymentSession"]):
    """Which sessions: every predicate the engine, the sweeps, the admin and the metrics share, defined once."""

    def open(self) -> PaymentSessionQuerySet:
        """Sessions Flinks could still act on: known to Flinks, not ended, not reported unknown by Flinks.

        :attr:`PaymentSession.is_open` says the same of one instance.
        """
        return self.filter(OPEN)

    def unclaimed(self, *, stale_before: datetime) -> PaymentSessionQuerySet:
        """No cancel in flight: no claim, or one taken before ``stale_before`` (its worker died or stalled)."""
        return self.filter(free_of_claim("cancel_claimed_at", stale_before=stale_before))

    def cancel_requested(self) -> PaymentSessionQuerySet:
        """Open sessions asked to cancel: waiting for their cancel, or whose cancel failed."""
        return self.open().filter(cancel_requested_at__isnull=False)

    def failed_cancels(self) -> PaymentSessionQuerySet:
        """Open sessions whose cancel was asked for and whose last cancel call failed (:data:`FAILED_CANCEL`)."""
        return self.open().filter(FAILED_CANCEL)

    def undecided_guarantees(self) -> PaymentSessionQuerySet:
        """Open GEFT sessions whose guarantee offer reached the site and that nobody has decided yet."""
        return self.open().filter(
            product=Product.GEFT, guarantee_offered_at__isnull=False, guarantee_decision=""
        )

    def restartable(self) -> PaymentSessionQuerySet:
        """Sessions "Start again" may replace (:func:`restartable_condition`)."""
        return self.filter(restartable_condition())

    def due_for_retry(self, *, stale_before: datetime, intent_before: datetime) -> PaymentSessionQuerySet:
        """Open sessions whose cancel was asked for, never finished, and that nobody is cancelling now.

        That is a standing intent with no live claim and either a failed cancel (:data:`FAILED_CANCEL`) or an
        intent older than ``intent_before`` (its task was lost, never ran, or was deferred for a grace period
        now over).
        """
        return (
            self.cancel_requested()
            .unclaimed(stale_before=stale_before)
            .filter(FAILED_CANCEL | Q(cancel_requested_at__lt=intent_before))
        )


PaymentSessionManager = models.Manager.from_queryset(PaymentSessionQuerySet)

# The partial indexes' condition: open() filters on the same statuses, so the planner can use them.
_OPEN = Q(status__in=list(OPEN_STATUSES))


class GuaranteeDecision(models.TextChoices):
    """The merchant's answer to a GEFT guarantee offer, as Flinks accepted it."""

    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


def user_link(verbose_name: Any, *, related_name: str) -> models.ForeignKey[Any, Any]:
    """An optional link to a site user that outlives the user: deleting one keeps our rows, without the link."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose_name,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name=related_name,
    )


class PaymentSession(models.Model):
    """A Flinks Pay session as this site knows it."""

    Status: ClassVar[type[Status]] = Status
    Product: ClassVar[type[Product]] = Product
    GuaranteeDecision: ClassVar[type[GuaranteeDecision]] = GuaranteeDecision

    # Null only while a creation's outcome is unknown (timeout after sending); reconciled by reference_id.
    session_id = models.UUIDField(_("Flinks session id"), unique=True, null=True, blank=True, editable=False)
    reference_id = models.CharField(_("reference"), max_length=100, db_index=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.INITIATED)
    remote_status = models.CharField(
        _("status as Flinks spelled it"), max_length=40, blank=True, editable=False
    )
    status_details = models.CharField(_("status details"), max_length=20, blank=True, editable=False)
    # What was asked for; null for a GEFT session whose shopper enters the amount at Flinks.
    amount = models.DecimalField(_("amount"), max_digits=9, decimal_places=2, null=True, blank=True)
    # What Flinks last reported (/status, /details, a webhook): lower than ``amount`` after a reduced offer.
    settled_amount = models.DecimalField(
        _("settled amount"), max_digits=9, decimal_places=2, null=True, blank=True, editable=False
    )
    currency = models.CharField(_("currency"), max_length=3, default="CAD")
    product = models.CharField(_("product"), max_length=12, choices=Product.choices, default=Product.EFT)
    account = models.CharField(_("Flinks account"), max_length=64, default="default")
    owner = user_link(_("owner"), related_name="flinks_payment_sessions")
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    # What start_session sent besides amount and reference (payor, payee, options): what a restart repeats.
    start_params = models.JSONField(_("creation parameters"), default=dict, blank=True, editable=False)
    # The session this one replaces ("Start again" after a cancel, an expiry or a failure). One-to-one: an
    # ended session has at most one successor, whatever races to restart it (services.restart_session).
    restarted_from = models.OneToOneField(
        "self",
        verbose_name=_("restarted from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="successor",
        editable=False,
    )
    # Who is creating this session's successor right now (the cancel claim's discipline); its link then answers.
    restart_claim = models.UUIDField(_("restart claim"), null=True, blank=True, editable=False)
    restart_claimed_at = models.DateTimeField(
        _("restart in progress since"), null=True, blank=True, editable=False
    )

    cancel_requested_at = models.DateTimeField(
        _("cancel requested at"), null=True, blank=True, editable=False
    )
    cancel_source = models.CharField(
        _("cancel requested by"), max_length=16, choices=Source.choices, blank=True, editable=False
    )
    cancel_reason = models.CharField(_("cancel reason"), max_length=255, blank=True, editable=False)
    # Who is calling Flinks' /cancel right now: set under the row lock, cleared when the call's outcome is stored.
    cancel_claim = models.UUIDField(_("cancel claim"), null=True, blank=True, editable=False)
    cancel_claimed_at = models.DateTimeField(_("cancel claimed at"), null=True, blank=True, editable=False)
    # When the standing intent's last cancel call failed (a failed sync or guarantee call is not one).
    cancel_failed_at = models.DateTimeField(_("cancel failed at"), null=True, blank=True, editable=False)
    # The GEFT guarantee: when Flinks' offer event arrived, what it said, and the merchant's one decision.
    guarantee_offered_at = models.DateTimeField(
        _("guarantee offered at"), null=True, blank=True, editable=False
    )
    guarantee_offer = models.JSONField(_("guarantee offer"), default=dict, blank=True, editable=False)
    guarantee_decision = models.CharField(
        _("guarantee decision"),
        max_length=8,
        choices=GuaranteeDecision.choices,
        blank=True,
        default="",
        editable=False,
    )
    guarantee_decided_at = models.DateTimeField(
        _("guarantee decided at"), null=True, blank=True, editable=False
    )
    # Who is calling Flinks' /guarantees/confirm right now (the cancel claim's discipline).
    guarantee_claim = models.UUIDField(_("guarantee claim"), null=True, blank=True, editable=False)
    guarantee_claimed_at = models.DateTimeField(
        _("guarantee claimed at"), null=True, blank=True, editable=False
    )
    # The payer agreed to be reminded of an abandoned checkout (start_session(recovery_consent=True)); a
    # successor inherits it. Who is sending the order's recovery notice now (services.recovery; the claim's discipline).
    recovery_consent = models.BooleanField(
        _("recovery consent"), default=False, db_default=False, editable=False
    )
    recovery_claim = models.UUIDField(_("recovery claim"), null=True, blank=True, editable=False)
    recovery_claimed_at = models.DateTimeField(
        _("recovery notice in progress since"), null=True, blank=True, editable=False
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True, editable=False)
    not_found_at = models.DateTimeField(_("not found at Flinks at"), null=True, blank=True, editable=False)
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True, editable=False)
    # An announcement of this session is failing: later ones wait for the sweep, which sends them in order.
    announcements_held = models.BooleanField(
        _("announcements held"), default=False, db_default=False, editable=False
    )
    attempt_count = models.PositiveIntegerField(_("failed attempts"), default=0, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PaymentSessionManager()

    class Meta:
        verbose_name = _("payment session")
        verbose_name_plural = _("payment sessions")
        ordering = ("-created_at",)
        # What each index serves is shown by bench/scale.py's EXPLAINs (README, "What it costs").
        indexes = (
            models.Index(fields=("status", "created_at"), name="flinks_sess_status_created"),
            models.Index(fields=("account", "status"), name="flinks_sess_account_status"),
            # The admin's newest-first list and its date navigation.
            models.Index(fields=("created_at", "id"), name="flinks_sess_created"),
            # The sweeps: open sessions oldest first, and the open ones with a standing cancel request.
            models.Index(fields=("created_at", "id"), condition=_OPEN, name="flinks_sess_open_created"),
            models.Index(
                fields=("created_at", "id"),
                condition=_OPEN & Q(cancel_requested_at__isnull=False),
                name="flinks_sess_open_cancel_req",
            ),
            # The guarantees waiting for a decision (admin filter, flinks_sync_sessions): a handful of rows.
            models.Index(
                fields=("guarantee_offered_at", "id"),
                condition=_OPEN & Q(guarantee_offered_at__isnull=False, guarantee_decision=""),
                name="flinks_sess_guarantee_wait",
            ),
        )
        permissions = (
            ("cancel_paymentsession", _("Can cancel payment sessions at Flinks")),
            ("sync_paymentsession", _("Can sync payment sessions from Flinks")),
            ("decide_guarantee_paymentsession", _("Can accept or reject GEFT guarantees at Flinks")),
        )

    def __str__(self) -> str:
        return f"{self.reference_id} ({self.session_id or _('not created')})"

    @property
    def is_terminal(self) -> bool:
        """Completed, Failed, Cancelled and Expired are sinks."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        """Flinks could still act on it (and so cancel it): :meth:`PaymentSessionQuerySet.open` for one row."""
        return self.session_id is not None and self.not_found_at is None and not self.is_terminal

    @property
    def has_failed_cancel(self) -> bool:
        """A cancel was asked for and its last call to Flinks failed: :meth:`PaymentSessionQuerySet.failed_cancels`
        for one row (a failed sync or guarantee call is not one)."""
        return self.cancel_requested_at is not None and self.cancel_failed_at is not None

    @property
    def has_pending_cancel(self) -> bool:
        """A cancel was asked for and has not reached a terminal state yet (the sweep retries these)."""
        return self.cancel_requested_at is not None and not self.is_terminal

    def hosted_url(self) -> str:
        """The hosted payment page for this session (``{BaseUri}/app/?sessionId={id}``), for an iframe or a redirect."""
        from flinks_sessions.conf import get_settings

        base = get_settings().account(self.account).hosted_page_base
        return f"{base}/app/?sessionId={self.session_id}"


class SessionEventQuerySet(models.QuerySet["SessionEvent"]):
    """Which announcements a sweep still owes (``services.announcements``)."""

    def unannounced(self) -> SessionEventQuerySet:
        return self.filter(announcement__in=(Announcement.PENDING, Announcement.FAILING))

    def due(self, *, now: Any, grace: float, ignore_backoff: bool = False) -> SessionEventQuerySet:
        """Pending for longer than ``grace`` seconds (its worker had time to send it), or failing and due."""
        pending = models.Q(announcement=Announcement.PENDING, created_at__lt=now - timedelta(seconds=grace))
        failing = models.Q(announcement=Announcement.FAILING)
        if not ignore_backoff:
            failing &= models.Q(announce_next_at__lte=now)
        return self.filter(pending | failing)

    def unclaimed(self, *, stale_before: Any) -> SessionEventQuerySet:
        """Rows no live sweep holds: never claimed, or claimed before ``stale_before`` (the TTL passed)."""
        return self.filter(
            models.Q(announce_claimed_at__isnull=True) | models.Q(announce_claimed_at__lt=stale_before)
        )


class Announcement(models.TextChoices):
    """Where a stored transition's signals are: sent to every receiver, or still owed."""

    NONE = "", _("Nothing to announce")
    PENDING = "pending", _("Announcement pending")
    ANNOUNCED = "announced", _("Announced")
    FAILING = "failing", _("Announcement failing")


def restartable_condition() -> Q:
    """Sessions "Start again" may replace: confirmed by Flinks, not completed, without a successor yet.

    No join but an EXISTS: a conditional UPDATE with a join becomes ``pk IN (subquery)``, which PostgreSQL does
    not re-check against a row another claim changed meanwhile.
    """
    successor = PaymentSession.objects.filter(restarted_from=OuterRef("pk"))
    return Q(~Exists(successor), session_id__isnull=False) & ~Q(status=Status.COMPLETED)


class SessionEvent(models.Model):
    """One line of a session's audit trail.

    The audit columns are written once and never changed; only the ``announce*`` columns move, as the signals
    the row announces are sent (``services.announcements``).
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITION = "transition", _("Status changed")
        CANCEL_ATTEMPT = "cancel_attempt", _("Cancel attempted")
        CANCEL_WITHDRAWN = "cancel_withdrawn", _("Cancel withdrawn")
        CANCEL_FAILED = "cancel_failed", _("Cancel failed")
        RESTARTED = "restarted", _("Restarted as a new session")
        NOT_FOUND = "not_found", _("Not found at Flinks")
        SYNC_FAILED = "sync_failed", _("Sync failed")
        GUARANTEE_OFFERED = "guarantee_offered", _("Guarantee offered")
        GUARANTEE_DECIDED = "guarantee_decided", _("Guarantee decided")
        GUARANTEE_FAILED = "guarantee_failed", _("Guarantee decision failed")
        AMOUNT_REDUCED = "amount_reduced", _("Amount reduced by Flinks")

    session = models.ForeignKey(
        PaymentSession,
        verbose_name=_("session"),
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,  # flinks_event_session_created leads with it
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    status_details = models.CharField(_("status details"), max_length=20, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    actor = user_link(_("actor"), related_name="+")
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    payload = models.JSONField(_("upstream payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    # Written with the INSERT (pending) and after commit (announced, failing): no statement on a hot path.
    # Database defaults too: a process still running the previous release inserts rows without these columns.
    announcement = models.CharField(
        _("announcement"), max_length=10, choices=Announcement.choices, default="", db_default="", blank=True
    )
    announce_attempts = models.PositiveIntegerField(_("announcement attempts"), default=0, db_default=0)
    announce_error = models.CharField(
        _("announcement error"), max_length=1000, blank=True, default="", db_default=""
    )
    announce_next_at = models.DateTimeField(_("next announcement try"), null=True, blank=True)
    announce_claim = models.UUIDField(null=True, blank=True, editable=False)
    announce_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = SessionEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("session event")
        verbose_name_plural = _("session events")
        ordering = ("created_at", "pk")
        # A session's trail in order, newest lines first for the admin, without sorting a long trail.
        indexes = (
            models.Index(fields=("session", "created_at", "id"), name="flinks_event_session_created"),
            # What the announcement sweep reads: a handful of rows, whatever the length of the trail.
            models.Index(
                fields=("session", "id"),
                name="flinks_event_unannounced",
                condition=models.Q(announcement__in=("pending", "failing")),
            ),
        )

    def __str__(self) -> str:
        """``Initiated → Cancelled (Shopper's browser)``: the admin's caption of a line, in the active language."""
        source = self.get_source_display()
        if self.decided_by_policy:
            source = str(_("The site's guarantee policy"))
        if self.kind == self.Kind.TRANSITION:
            return f"{label_of(Status, self.from_status)} → {label_of(Status, self.to_status)} ({source})"
        return f"{self.get_kind_display()} ({source})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("SessionEvent rows are append-only")
        super().save(*args, **kwargs)

    @property
    def decided_by_policy(self) -> bool:
        """A guarantee decision nobody clicked: the site's ``GUARANTEE_DECISION`` policy took it (its task runs
        from the offer's webhook, which is what ``source`` records)."""
        return (
            self.kind == self.Kind.GUARANTEE_DECIDED
            and self.actor_id is None
            and self.source == Source.WEBHOOK
        )


class WebhookDelivery(models.Model):
    """Every webhook request, stored before anything else happens to it (Flinks never sends one twice)."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received")
        APPLIED = "applied", _("Applied")
        DUPLICATE = "duplicate", _("Duplicate")
        STALE = "stale", _("Stale")
        UNKNOWN_SESSION = "unknown_session", _("Unknown session")
        IGNORED = "ignored", _("Ignored event type")
        GUARANTEE_OFFERED = "guarantee_offered", _("Guarantee offer recorded")
        RECORDED = "recorded", _("Recorded (not a session status)")
        MISMATCH = "mismatch", _("Mismatch (not applied)")
        INVALID_SIGNATURE = "invalid_signature", _("Invalid signature")
        MALFORMED = "malformed", _("Malformed")
        ERROR = "error", _("Error")

    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.BinaryField(_("raw body"))
    signature_form = models.CharField(_("signature header"), max_length=40, blank=True)
    signature_valid = models.BooleanField(_("signature valid"), null=True)
    event_type = models.CharField(_("event type"), max_length=64, blank=True)
    flinks_session_id = models.UUIDField(_("Flinks session id"), null=True, blank=True, db_index=True)
    session = models.ForeignKey(
        PaymentSession,
        verbose_name=_("session"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_deliveries",
    )
    remote_status = models.CharField(_("status"), max_length=40, blank=True)
    status_details = models.CharField(_("status details"), max_length=20, blank=True)
    event_when = models.DateTimeField(_("event time"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED)
    error = models.TextField(_("error"), blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # Rejected deliveries are stored bounded (webhooks/rejected.py): cut short, and counted once over the cap.
    truncated = models.BooleanField(_("truncated"), default=False, editable=False)
    dropped_after = models.PositiveIntegerField(
        _("rejected deliveries dropped after this one"), default=0, editable=False
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ("-received_at", "-pk")
        # The admin's order and the prune's batches walk (received_at, id) in index order.
        indexes = (
            models.Index(fields=("received_at", "id"), name="flinks_delivery_received"),
            # The admin's outcome filter, newest first; the receiver's count of this minute's rejections.
            models.Index(fields=("outcome", "received_at", "id"), name="flinks_delivery_outcome"),
        )

    def __str__(self) -> str:
        return f"{self.event_type or _('webhook')} {self.flinks_session_id or ''} ({self.outcome})"


class RecoveryNotice(models.Model):
    """The one recovery notice of an order (reference and account): the dedupe key of ``services.recovery``.

    The row is inserted with the notice's claim, before anything is sent, and the unique constraint on the order
    lets only one exist: whatever races or crashes, an order is sent at most one notice (docs/architecture.md).
    """

    class State(models.TextChoices):
        SENDING = "sending", _("Sending (not confirmed)")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        WITHDRAWN = "withdrawn", _("Not sent: the order went on")

    account = models.CharField(_("Flinks account"), max_length=64)
    reference_id = models.CharField(_("reference"), max_length=100)
    # The ended session the link names (and restarts).
    session = models.ForeignKey(
        PaymentSession, verbose_name=_("session"), on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.SENDING)
    claim = models.UUIDField(editable=False)
    claimed_at = models.DateTimeField(_("claimed at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    emailed = models.BooleanField(_("emailed"), default=False)
    error = models.CharField(_("error"), max_length=1000, blank=True)
    # When the payer pressed Continue on the link's page (a GET records nothing: mail scanners fetch links).
    opened_at = models.DateTimeField(_("link used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery notice")
        verbose_name_plural = _("recovery notices")
        constraints = (
            models.UniqueConstraint(fields=("reference_id", "account"), name="flinks_recovery_one_per_order"),
        )
        indexes = (models.Index(fields=("sent_at", "id"), name="flinks_recovery_sent"),)

    def __str__(self) -> str:
        return f"{self.reference_id} ({self.get_state_display()})"
