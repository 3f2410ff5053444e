"""The abandonment page: what it shows for a known set of sessions, in English and French, at a fixed cost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from flinks_sessions.admin.abandonment_report import Period, build
from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status
from tests.factories import new_session

pytestmark = pytest.mark.django_db

PAGE = "admin:flinks_sessions_paymentsession_abandonment"


def session(status: str, *, age: timedelta, lasted: timedelta | None = None, **fields: Any) -> PaymentSession:
    """A stored session started ``age`` ago; an abandoned one ended ``lasted`` after it started."""
    created = timezone.now() - age
    row = new_session(reference_id="ORDER", status=status, **fields)
    ended = created + lasted if lasted is not None else None
    PaymentSession.objects.filter(pk=row.pk).update(
        created_at=created,
        updated_at=ended or created,
        cancelled_at=ended if status == Status.CANCELLED else None,
    )
    return row


@pytest.fixture
def sessions() -> None:
    session(Status.COMPLETED, age=timedelta(days=1))
    session(Status.COMPLETED, age=timedelta(days=2))
    session(
        Status.CANCELLED,
        age=timedelta(days=1),
        lasted=timedelta(seconds=30),
        cancel_requested_at=timezone.now(),
        cancel_source="beacon",
        cancel_reason="pagehide",
    )
    session(
        Status.CANCELLED,
        age=timedelta(days=3),
        lasted=timedelta(minutes=10),
        cancel_requested_at=timezone.now(),
        cancel_source="admin",
        cancel_reason="duplicate order",
    )
    session(Status.EXPIRED, age=timedelta(days=3), lasted=timedelta(hours=2))
    session(
        Status.INITIATED,
        age=timedelta(hours=1),
        cancel_requested_at=timezone.now(),
        cancel_source="beacon",
        last_error="Flinks answered 503",
        cancel_failed_at=timezone.now(),
    )
    session(
        Status.INITIATED, age=timedelta(hours=2), cancel_requested_at=timezone.now(), cancel_source="beacon"
    )
    session(Status.COMPLETED, age=timedelta(days=40))  # outside the default 30 days
    session(Status.CANCELLED, age=timedelta(days=1), lasted=timedelta(minutes=1), account="geft")


@pytest.fixture
def viewer() -> Client:
    user = User.objects.create_superuser("boss", "boss@example.com", None)
    client = Client()
    client.force_login(user)
    return client


def test_the_report_counts_what_happened(sessions: None) -> None:
    today = timezone.localdate()
    report = build(Period(first=today - timedelta(days=29), last=today, account="default"))
    assert report.sessions == 7
    assert report.abandoned == 3
    assert report.abandonment_rate == pytest.approx(3 / 5)
    assert dict(report.by_source) == {"beacon": 1, "admin": 1}
    assert dict(report.by_reason) == {"pagehide": 1, "duplicate order": 1}
    assert [count for _label, count in report.durations] == [1, 0, 1, 0, 0, 1, 0, 0]
    assert (report.failed_cancels, report.pending_cancels) == (1, 1)
    everything = build(Period(first=today - timedelta(days=29), last=today))
    assert everything.sessions == 8


def test_the_page_renders_charts_in_english_and_french_at_a_fixed_cost(
    sessions: None, viewer: Client
) -> None:
    viewer.get(reverse(PAGE))  # warm the session and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(reverse(PAGE), {"days": "30", "account": "default"})
    assert response.status_code == 200
    html = response.content.decode()
    # The admin's own (session, user) plus the report's four aggregates and the recovery figures' one: never one
    # per session.
    assert len(queries) == 7, [query["sql"] for query in queries]
    assert html.count('<svg class="flinks-chart"') == 4
    assert "<script" not in html.split('id="content-main"')[1]
    assert "Sessions per day by outcome" in html
    assert "Left the page" in html
    assert "60.0%" in html
    with translation.override("fr"):
        french = viewer.get(reverse(PAGE), {"days": "30"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Sessions par jour selon l\u2019issue" in french
    assert "A quitté la page" in french


def test_a_bad_period_shows_the_forms_error(viewer: Client) -> None:
    response = viewer.get(reverse(PAGE), {"first": "2026-05-01", "last": "2026-01-01", "days": "nope"})
    assert response.status_code == 200
    assert "must not be after its end" in response.content.decode()


def test_it_is_linked_from_the_changelist_and_the_app_index(viewer: Client) -> None:
    url = reverse(PAGE)
    assert url in viewer.get(reverse("admin:flinks_sessions_paymentsession_changelist")).content.decode()
    assert url in viewer.get(reverse("admin:app_list", args=["flinks_sessions"])).content.decode()


def test_staff_without_the_view_permission_may_not_see_it() -> None:
    client = Client()
    client.force_login(User.objects.create_user("staff", is_staff=True))
    assert client.get(reverse(PAGE)).status_code == 403


@pytest.mark.parametrize(
    ("zone", "first", "last"),
    [
        ("UTC", "9999-12-31", "9999-12-31"),
        ("UTC", "9999-12-30", "9999-12-31"),
        ("Asia/Tokyo", "0001-01-01", "0001-01-01"),
    ],
)
def test_dates_at_the_end_of_the_calendar_show_the_forms_error(
    viewer: Client, settings: Any, zone: str, first: str, last: str
) -> None:
    """The day after 9999-12-31, or the first of January of year 1 seen from east of UTC, is no datetime: the
    period's bounds raised ``OverflowError``, a 500 where the page promises the form's error."""
    settings.TIME_ZONE = zone
    response = viewer.get(reverse(PAGE), {"first": first, "last": last})
    assert response.status_code == 200
    assert "Ensure this value is" in response.content.decode()
