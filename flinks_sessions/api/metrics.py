"""``/metrics``: the app's Prometheus metrics for a scraper (the ``metrics`` extra).

Not in ``flinks_sessions.urls``: a site mounts it where its Prometheus looks, and keeps it off the public
internet (at the proxy, or by wrapping the view), as the example project and docs/deployment.md show::

    path("metrics", flinks_sessions.api.metrics.metrics_view)

The counters come from :mod:`flinks_sessions.metrics` (summed over gunicorn's workers when
``PROMETHEUS_MULTIPROC_DIR`` is set). The backlog gauges are read here, at scrape time, with four aggregate
queries on indexed columns, so they are right however many processes serve the site.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views import View

from flinks_sessions import metrics
from flinks_sessions.models import FAILED_CANCEL, Announcement, PaymentSession, RecoveryNotice, SessionEvent
from flinks_sessions.status import Status


def read_backlog(open_after: timedelta) -> Iterator[metrics.Reading]:
    """The gauges: open sessions older than ``open_after``, and standing cancels that failed or still wait.

    "Open" is ``PaymentSession.objects.open()``, the sweeps' own definition. The first query uses the
    (status, created_at) index, the second the cancel_requested_at one.
    """
    overdue = PaymentSession.objects.open().filter(created_at__lt=timezone.now() - open_after).count()
    yield metrics.Reading(
        "open_sessions_overdue",
        f"Sessions still open more than {int(open_after.total_seconds())} s after they were created.",
        overdue,
    )
    backlog = PaymentSession.objects.cancel_requested().aggregate(
        failed=Count("pk", filter=FAILED_CANCEL), pending=Count("pk", filter=~FAILED_CANCEL)
    )
    documentation = (
        "Open sessions asked to cancel: 'failed' had a failed cancel call (--retry-failed picks them up), "
        "'pending' wait for their first."
    )
    for state in ("failed", "pending"):
        yield metrics.Reading("cancel_backlog", documentation, backlog[state] or 0, {"state": state})
    owed = SessionEvent.objects.unannounced().aggregate(
        failing=Count("pk", filter=Q(announcement=Announcement.FAILING)),
        pending=Count("pk", filter=Q(announcement=Announcement.PENDING)),
    )
    documentation = (
        "Stored transitions whose signals are not yet sent to every receiver: 'failing' had a receiver raise "
        "(flinks_announce_pending retries them), 'pending' wait for their worker or the sweep."
    )
    for state in ("failing", "pending"):
        yield metrics.Reading("announcements_pending", documentation, owed[state] or 0, {"state": state})
    yield from read_recovery()


def read_recovery() -> Iterator[metrics.Reading]:
    """Abandoned-checkout recovery, from the notices: sent, and recovered (the order was paid since)."""
    paid = PaymentSession.objects.filter(
        reference_id=OuterRef("reference_id"), account=OuterRef("account"), status=Status.COMPLETED
    )
    found = RecoveryNotice.objects.filter(state=RecoveryNotice.State.SENT).aggregate(
        sent=Count("pk"), recovered=Count("pk", filter=Q(Exists(paid)))
    )
    documentation = "Recovery notices sent ('sent'), and those whose order was paid since ('recovered')."
    for state in ("sent", "recovered"):
        yield metrics.Reading("recovery_notices", documentation, found[state] or 0, {"state": state})


class MetricsView(View):
    """Answer a Prometheus scrape; ``open_after`` is when an open session counts as overdue."""

    http_method_names = ["get"]
    open_after = timedelta(minutes=30)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not metrics.enabled():
            return HttpResponse(
                "Metrics are off: install flinks-sessions[metrics] (prometheus-client).\n",
                status=501,
                content_type="text/plain; charset=utf-8",
            )
        body, content_type = metrics.exposition(
            lambda: read_backlog(self.open_after), request.headers.get("Accept", "")
        )
        return HttpResponse(body, content_type=content_type)


metrics_view = MetricsView.as_view()
