"""The admin in Chromium at a laptop's width: the changelist fits 1,400 px, the abandonment page draws its charts
in the light and the dark theme.

``FLINKS_SCREENSHOTS=docs/images`` also saves what the browser showed (the pictures in the README, "The admin").
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from flinks_sessions.models import PaymentSession
from flinks_sessions.status import Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("FLINKS_SCREENSHOTS", "")
# (status, cancel source, cancel reason, minutes the session lasted): a month of a small shop's checkouts.
KINDS = [
    (Status.COMPLETED, "", "", 6),
    (Status.COMPLETED, "", "", 9),
    (Status.COMPLETED, "", "", 4),
    (Status.CANCELLED, "beacon", "pagehide", 1),
    (Status.CANCELLED, "beacon", "close", 3),
    (Status.CANCELLED, "admin", "duplicate order", 45),
    (Status.EXPIRED, "", "", 240),
    (Status.FAILED, "", "", 7),
    (Status.CANCELLED, "command", "abandoned for 30 minutes", 31),
    (Status.INITIATED, "beacon", "pagehide", 0),
]


def seed() -> None:
    now = timezone.now()
    rows = []
    for index in range(120):
        status, source, reason, minutes = KINDS[index % len(KINDS)]
        created = now - timedelta(days=index % 30, hours=index % 7)
        failing = status == Status.INITIATED and index % 20 == 9
        rows.append(
            PaymentSession(
                session_id=uuid.uuid4(),
                reference_id=f"order-{4000 + index}",
                amount=Decimal("39.99") + index,
                # the newest GEFT payment settled at half: a reduced guarantee offer, shown in the amount column
                settled_amount=Decimal("20.00") if index == 0 else None,
                status=status,
                status_details={"completed": "EFT0301", "cancelled": "EFT0501", "expired": "EFT0601"}.get(
                    status, "EFT0403" if status == Status.FAILED else ""
                ),
                account="geft" if index % 4 == 0 else "default",
                product="geft" if index % 4 == 0 else "eft",
                cancel_requested_at=created if source else None,
                cancel_source=source,
                cancel_reason=reason,
                last_error="Flinks answered 503: Service Unavailable" if failing else "",
                cancel_failed_at=created if failing else None,
                cancelled_at=created + timedelta(minutes=minutes) if status == Status.CANCELLED else None,
            )
        )
    PaymentSession.objects.bulk_create(rows)
    for row in PaymentSession.objects.all():
        index = int(row.reference_id.split("-")[1]) - 4000
        created = now - timedelta(days=index % 30, hours=index % 7)
        PaymentSession.objects.filter(pk=row.pk).update(
            created_at=created, updated_at=created + timedelta(minutes=KINDS[index % len(KINDS)][3])
        )


@pytest.fixture
def admin_page(browser: Any, live_server: Any) -> Any:
    """A logged-in superuser's page at 1,400 px, over a month of seeded sessions."""
    seed()
    client = Client()
    client.force_login(User.objects.create_superuser("operator", "operator@example.com", None))
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    def open_page(path: str, *, color_scheme: str = "light") -> Any:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=color_scheme)
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        page = context.new_page()
        page.goto(f"{live_server.url}{path}")
        return page

    return open_page


def save(page: Any, name: str, *, full_page: bool = True) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=full_page)


def assert_results_fit(page: Any) -> None:
    """No column of a changelist is cut off: the results table is no wider than its box."""
    fits = page.evaluate(
        """() => {
            const results = document.querySelector('.results');
            const widths = Array.from(document.querySelectorAll('#result_list thead th')).map(
                cell => [cell.className, Math.round(cell.getBoundingClientRect().width)]);
            return [results.scrollWidth, results.clientWidth, widths];
        }"""
    )
    assert fits[0] <= fits[1], f"a column is cut off: the results table is wider than its box ({fits})"


def test_the_changelist_fits_1400_pixels(admin_page: Any) -> None:
    page = admin_page("/admin/flinks_sessions/paymentsession/")
    page.wait_for_selector("#result_list")
    save(page, "admin-changelist.png", full_page=False)
    assert_results_fit(page)
    # How many lines each id takes: an inline element has one client rect per line it is laid out on.
    lines = page.evaluate(
        """() => Array.from(document.querySelectorAll('.flinks-id, th.field-reference_id a'))
            .map(element => element.getClientRects().length)"""
    )
    assert lines
    assert set(lines) == {1}, lines


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_the_abandonment_page_draws_its_charts(admin_page: Any, color_scheme: str) -> None:
    page = admin_page("/admin/flinks_sessions/paymentsession/abandonment/", color_scheme=color_scheme)
    page.wait_for_selector("svg.flinks-chart")
    assert page.locator("svg.flinks-chart").count() == 4
    fills = page.evaluate(
        """() => ['completed', 'cancelled'].map(
            key => getComputedStyle(document.querySelector('rect.flinks-series-' + key)).fill)"""
    )
    assert len(set(fills)) == 2, fills  # the outcomes are told apart by colour, from the stylesheet
    text = page.evaluate("() => getComputedStyle(document.querySelector('svg.flinks-chart text')).fill")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert text != background
    save(page, f"admin-abandonment-{color_scheme}.png")
