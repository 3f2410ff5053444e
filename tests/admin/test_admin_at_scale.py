"""The admin at a million rows: no page's query count grows with the table, nothing counts a whole large table,
searches and filters use lookups an index serves, the date hierarchy never lists dates with a scan, and a long
audit trail is shown bounded with a link to the rest. (``bench/scale.py`` measures the times.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from flinks_sessions.admin.audit import INLINE_EVENTS
from flinks_sessions.admin.pagination import EstimatedCountPaginator
from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from tests.factories import new_session

pytestmark = pytest.mark.django_db

SESSIONS = "admin:flinks_sessions_paymentsession_changelist"
DELIVERIES = "admin:flinks_sessions_webhookdelivery_changelist"
EVENTS = "admin:flinks_sessions_sessionevent_changelist"
Status = PaymentSession.Status


@pytest.fixture
def operator() -> Client:
    """Staff who may see sessions and deliveries (and, through the sessions, their audit trail)."""
    user = User.objects.create_user("operator", password=None, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_paymentsession", "view_webhookdelivery"])
    )
    client = Client()
    client.force_login(user)
    return client


def fill(total: int, *, events_per_session: int = 1) -> list[PaymentSession]:
    """``total`` sessions, each with an owner, its audit rows and one webhook delivery."""
    owners = User.objects.bulk_create(
        User(username=f"owner-{total}-{n}", email=f"owner-{total}-{n}@example.com") for n in range(total)
    )
    sessions = PaymentSession.objects.bulk_create(
        PaymentSession(
            session_id=uuid.uuid4(),
            reference_id=f"R{total}-{n:04d}",
            amount=Decimal("10.00"),
            status=Status.COMPLETED if n % 2 else Status.INITIATED,
            owner=owner,
        )
        for n, owner in enumerate(owners)
    )
    SessionEvent.objects.bulk_create(
        SessionEvent(session=session, kind=SessionEvent.Kind.CREATED, source="api")
        for session in sessions
        for _ in range(events_per_session)
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            body=b"{}",
            event_type="SessionSetupStatusChanged",
            flinks_session_id=session.session_id,
            session=session,
            outcome="applied",
        )
        for session in sessions
    )
    return sessions


def pages(sessions: list[PaymentSession]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every page bench/scale.py measures, for the rows of one fill."""
    first = sessions[0]
    year = timezone.localtime().year
    return {
        "sessions": (reverse(SESSIONS), {}),
        "sessions by status": (reverse(SESSIONS), {"status__exact": "completed"}),
        "sessions by product": (reverse(SESSIONS), {"product__exact": "eft"}),
        "sessions by account": (reverse(SESSIONS), {"account": "default"}),
        "sessions by session id": (reverse(SESSIONS), {"q": str(first.session_id)}),
        "sessions by reference": (reverse(SESSIONS), {"q": first.reference_id[:3]}),
        "sessions by owner": (reverse(SESSIONS), {"q": first.owner.username if first.owner else ""}),
        "sessions in a year": (reverse(SESSIONS), {"created_at__year": year}),
        "sessions in a month": (reverse(SESSIONS), {"created_at__year": year, "created_at__month": 1}),
        "change page": (reverse("admin:flinks_sessions_paymentsession_change", args=[first.pk]), {}),
        "audit trail": (reverse(EVENTS), {"session__id__exact": first.pk}),
        "deliveries": (reverse(DELIVERIES), {}),
        "deliveries by outcome": (reverse(DELIVERIES), {"outcome__exact": "applied"}),
        "deliveries by session id": (reverse(DELIVERIES), {"q": str(first.session_id)}),
    }


def queries_of(client: Client, url: str, params: dict[str, Any]) -> int:
    client.get(url, params)  # warm the session and permission caches alike
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, (url, params, response.status_code)
    return len(captured.captured_queries)


def test_no_page_runs_more_queries_with_more_rows(operator: Client) -> None:
    counts: dict[str, list[int]] = {}
    for total, events in ((5, 2), (50, INLINE_EVENTS + 30)):
        PaymentSession.objects.all().delete()
        WebhookDelivery.objects.all().delete()
        for name, (url, params) in pages(fill(total, events_per_session=events)).items():
            counts.setdefault(name, []).append(queries_of(operator, url, params))
    grown = {name: pair for name, pair in counts.items() if pair[0] != pair[1]}
    assert not grown, grown


@pytest.mark.parametrize(
    ("changelist", "table"), [(SESSIONS, "paymentsession"), (DELIVERIES, "webhookdelivery")]
)
def test_an_unfiltered_changelist_never_counts_the_whole_table(
    operator: Client, monkeypatch: pytest.MonkeyPatch, changelist: str, table: str
) -> None:
    """Above ``exact_up_to`` rows only a bounded ``COUNT`` runs, then (PostgreSQL) the planner's row count."""
    monkeypatch.setattr(EstimatedCountPaginator, "exact_up_to", 10)
    fill(30)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE flinks_sessions_{table}")  # what autovacuum keeps current
    with CaptureQueriesContext(connection) as captured:
        response = operator.get(reverse(changelist))
    counts = [query["sql"] for query in captured.captured_queries if "COUNT(" in query["sql"].upper()]
    assert response.context["cl"].result_count == 30  # reltuples after ANALYZE; an exact count elsewhere
    assert response.context["cl"].full_result_count is None
    if connection.vendor == "postgresql":
        assert counts
        assert all("LIMIT 11" in sql for sql in counts), counts
        assert any("reltuples" in query["sql"] for query in captured.captured_queries)
    else:  # other backends have no cheap estimate: a bounded count, then the exact one
        assert len(counts) == 2, counts


@pytest.mark.postgres
def test_a_large_filtered_changelist_shows_the_planners_estimate(
    operator: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EstimatedCountPaginator, "exact_up_to", 5)
    fill(40)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE flinks_sessions_paymentsession")
    with CaptureQueriesContext(connection) as captured:
        response = operator.get(reverse(SESSIONS), {"status__exact": "completed"})
    assert not [
        q["sql"]
        for q in captured.captured_queries
        if "COUNT(" in q["sql"].upper() and "LIMIT" not in q["sql"]
    ]
    assert any(query["sql"].startswith("EXPLAIN") for query in captured.captured_queries)
    assert 6 <= response.context["cl"].result_count <= 40


def test_small_results_are_counted_exactly(operator: Client) -> None:
    fill(12)
    response = operator.get(reverse(SESSIONS), {"status__exact": "completed"})
    assert response.context["cl"].result_count == 6
    assert "6 payment sessions" in response.content.decode()


# --- search ------------------------------------------------------------------------------------------------------


def sessions_found(client: Client, term: str) -> list[str]:
    response = client.get(reverse(SESSIONS), {"q": term})
    return sorted(session.reference_id for session in response.context["cl"].result_list)


def test_search_matches_what_an_index_serves_and_says_so(operator: Client) -> None:
    shopper = User.objects.create_user("shopper", "shopper@example.com")
    paid = new_session(reference_id="PAID-1", owner=shopper)
    new_session(reference_id="PAID-2")
    new_session(reference_id="OPEN-1")

    assert sessions_found(operator, str(paid.session_id)) == ["PAID-1"]
    assert sessions_found(operator, paid.session_id.hex.upper()) == ["PAID-1"]  # any UUID spelling
    assert sessions_found(operator, "PAID") == ["PAID-1", "PAID-2"]  # the start of a reference
    assert sessions_found(operator, "AID") == []  # not the middle: no index serves that
    if connection.vendor == "postgresql":  # SQLite's LIKE ignores ASCII case
        assert sessions_found(operator, "paid") == []  # case-sensitive, as the pattern index is
    assert sessions_found(operator, "shopper") == ["PAID-1"]
    assert sessions_found(operator, "shopper@example.com") == ["PAID-1"]
    assert sessions_found(operator, "shop") == []  # an owner by exact login name or email only
    html = operator.get(reverse(SESSIONS)).content.decode()
    assert "the start of a reference (case-sensitive)" in html


def test_delivery_search_by_session_id_or_reference_start(operator: Client) -> None:
    [session] = fill(1)
    other = WebhookDelivery.objects.create(body=b"{}", flinks_session_id=uuid.uuid4())
    url = reverse(DELIVERIES)
    by_id = operator.get(url, {"q": str(other.flinks_session_id)}).context["cl"].result_list
    assert [delivery.pk for delivery in by_id] == [other.pk]
    by_reference = operator.get(url, {"q": session.reference_id[:4]}).context["cl"].result_list
    assert [delivery.session_id for delivery in by_reference] == [session.pk]
    assert "start of the session" in operator.get(url).content.decode()


# --- filters and the date hierarchy ------------------------------------------------------------------------------


def test_filter_choices_come_from_configuration_not_from_the_table(operator: Client) -> None:
    fill(3)
    with CaptureQueriesContext(connection) as captured:
        response = operator.get(reverse(SESSIONS))
    assert not [q["sql"] for q in captured.captured_queries if "DISTINCT" in q["sql"].upper()]
    [accounts] = [spec for spec in response.context["cl"].filter_specs if spec.title == "Flinks account"]
    assert [choice["display"] for choice in accounts.choices(response.context["cl"])][1:] == ["default"]
    odd = WebhookDelivery.objects.create(body=b"{}", event_type="SomethingElse", outcome="ignored")
    deliveries = operator.get(reverse(DELIVERIES), {"event_type": "__other__"})
    assert list(deliveries.context["cl"].result_list) == [odd]


def created(reference: str, when: datetime) -> PaymentSession:
    session = new_session(reference_id=reference)
    PaymentSession.objects.filter(pk=session.pk).update(created_at=when)
    return session


def hierarchy(client: Client, **params: Any) -> tuple[list[str], list[str]]:
    """(the date hierarchy's choices, the SQL the page ran)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(SESSIONS), params)
    [choices] = [
        context["choices"]
        for template, context in zip(response.templates, response.context, strict=True)
        if template.name == "admin/date_hierarchy.html"
    ]
    titles = [str(choice["title"]) for choice in choices]
    return titles, [query["sql"] for query in captured.captured_queries]


def test_the_date_hierarchy_lists_from_the_first_row_to_the_last_without_a_scan(operator: Client) -> None:
    created("A", datetime(2023, 5, 2, 12, tzinfo=UTC))
    created("B", datetime(2025, 3, 9, 12, tzinfo=UTC))
    created("C", datetime(2025, 5, 20, 12, tzinfo=UTC))

    years, sql = hierarchy(operator)
    assert years == ["2023", "2024", "2025"]  # 2024 holds no row: listed, and shows an empty list
    assert not [statement for statement in sql if "DISTINCT" in statement.upper()]
    months, sql = hierarchy(operator, created_at__year=2025)
    assert months == ["March 2025", "April 2025", "May 2025"]
    assert not [statement for statement in sql if "DISTINCT" in statement.upper()]
    empty, _sql = hierarchy(operator, created_at__year=2024)
    assert empty == []
    days, _sql = hierarchy(operator, created_at__year=2025, created_at__month=3)
    assert days == ["March 9"]
    in_may = operator.get(reverse(SESSIONS), {"created_at__year": 2025, "created_at__month": 5})
    assert [session.reference_id for session in in_may.context["cl"].result_list] == ["C"]


# --- the audit trail ---------------------------------------------------------------------------------------------


def test_a_long_audit_trail_shows_its_latest_lines_and_links_to_the_rest(operator: Client) -> None:
    session = new_session(reference_id="LONG")
    start = timezone.now() - timedelta(days=1)
    events = SessionEvent.objects.bulk_create(
        SessionEvent(session=session, kind=SessionEvent.Kind.SYNC_FAILED, source="sync", reason=f"try {n}")
        for n in range(INLINE_EVENTS + 20)
    )
    for n, event in enumerate(events):
        SessionEvent.objects.filter(pk=event.pk).update(created_at=start + timedelta(minutes=n))

    response = operator.get(reverse("admin:flinks_sessions_paymentsession_change", args=[session.pk]))
    [inline] = response.context["inline_admin_formsets"]
    reasons = [form.instance.reason for form in inline.formset.forms]
    assert reasons == [f"try {n}" for n in range(20, INLINE_EVENTS + 20)]  # the latest, oldest first
    html = response.content.decode()
    full = f"{reverse(EVENTS)}?session__id__exact={session.pk}"
    assert f'href="{full}"' in html

    trail = operator.get(full)
    assert trail.status_code == 200
    assert trail.context["cl"].result_count == INLINE_EVENTS + 20
    assert trail.context["cl"].result_list[0].reason == f"try {INLINE_EVENTS + 19}"  # newest first


def test_the_full_audit_trail_is_read_only_and_needs_the_session_permission() -> None:
    session = new_session(reference_id="X")
    event = SessionEvent.objects.create(session=session, kind=SessionEvent.Kind.CREATED, source="api")
    stranger = User.objects.create_user("stranger", password=None, is_staff=True)
    client = Client()
    client.force_login(stranger)
    assert client.get(reverse(EVENTS)).status_code == 403
    stranger.user_permissions.set(Permission.objects.filter(codename="view_paymentsession"))
    assert client.get(reverse(EVENTS)).status_code == 200
    change = reverse("admin:flinks_sessions_sessionevent_change", args=[event.pk])
    assert client.post(change, {"reason": "edited"}).status_code == 403
    assert client.get(reverse("admin:flinks_sessions_sessionevent_add")).status_code == 403
    event.refresh_from_db()
    assert event.reason == ""
