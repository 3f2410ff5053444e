"""The session page's audit trail in Chromium: each announcement's state in words, at 1,400 px and on a phone.

``FLINKS_SCREENSHOTS=docs/images`` also saves what the browser showed.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from flinks_sessions.models import Announcement, SessionEvent
from flinks_sessions.status import Status
from tests.announce_helpers import Receiver, move, receiving
from tests.factories import new_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("FLINKS_SCREENSHOTS", "")
WIDTHS = {"laptop": 1400, "phone": 390}


def trail() -> Any:
    """InProgress announced, Completed failing twice (a receiver down), the reduced amount held behind it."""
    session = new_session(reference_id="order-4711", amount="120.00")
    with receiving(Receiver()):
        move(session, Status.IN_PROGRESS, "InProgress")
    SessionEvent.objects.filter(session=session).update(
        announcement=Announcement.ANNOUNCED, announce_attempts=1
    )
    move(session, Status.COMPLETED, "Completed", "EFT0301")
    completed = session.events.get(to_status=Status.COMPLETED)
    SessionEvent.objects.filter(pk=completed.pk).update(
        announcement=Announcement.FAILING,
        announce_attempts=2,
        announce_error="ConnectionError: order service unreachable",
        announce_next_at=timezone.now() + timedelta(minutes=1),
    )
    return session


@pytest.mark.parametrize("device", WIDTHS)
def test_the_audit_trail_shows_each_announcement_state(browser: Any, live_server: Any, device: str) -> None:
    session = trail()
    client = Client()
    client.force_login(User.objects.create_superuser("operator", "operator@example.com", None))
    context = browser.new_context(viewport={"width": WIDTHS[device], "height": 900})
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/flinks_sessions/paymentsession/{session.pk}/change/")
    cells = page.locator("td.field-announcement_state").all_inner_texts()
    assert cells == [
        "Announced",
        "Announcement failing (attempt 2; next try "
        + cells[1].split("next try ")[1].split(")")[0]
        + "): ConnectionError: order service unreachable",
    ]
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.locator("fieldset, .inline-group").last.scroll_into_view_if_needed()
        page.screenshot(
            path=str(Path(SCREENSHOTS) / f"admin-audit-announcements-{device}.png"), full_page=True
        )
    context.close()
