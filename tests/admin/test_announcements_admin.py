"""An operator sees whether the shop was told of each transition, and has a failing announcement sent again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from flinks_sessions.models import Announcement, SessionEvent
from flinks_sessions.status import Status
from tests.announce_helpers import Receiver, move, receiving
from tests.factories import new_session

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:flinks_sessions_sessionevent_changelist"


def operator(*codenames: str, language: str = "en") -> Client:
    user = User.objects.create_user("operator", password=None, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="flinks_sessions", codename__in=codenames)
    )
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def failing_session() -> tuple[SessionEvent, SessionEvent]:
    session = new_session()
    move(session, Status.IN_PROGRESS, "InProgress")
    move(session, Status.COMPLETED, "Completed", "EFT0301")
    first, second = session.events.order_by("pk")
    SessionEvent.objects.filter(pk=first.pk).update(
        announcement=Announcement.FAILING,
        announce_attempts=2,
        announce_error="RuntimeError: order service down",
        announce_next_at=timezone.now() + timedelta(minutes=5),
    )
    return first, second


def test_the_session_page_shows_each_announcement_state_in_words() -> None:
    first, _ = failing_session()
    client = operator("view_paymentsession")
    page = client.get(reverse("admin:flinks_sessions_paymentsession_change", args=[first.session_id]))
    text = page.content.decode()
    assert "Announcement failing (attempt 2; next try" in text
    assert "RuntimeError: order service down" in text
    assert "Announcement pending" in text  # the later one waits behind it
    assert ">pending<" not in text
    assert ">failing<" not in text


def test_the_french_admin_words_the_states_in_french() -> None:
    failing_session()
    client = operator("view_paymentsession", language="fr")
    with translation.override("fr"):
        page = client.get(reverse(CHANGELIST))
    text = page.content.decode()
    assert "Annonce en échec" in text
    assert "Annonce en attente" in text


def test_send_again_announces_the_failing_line_and_the_ones_it_held_back_in_order() -> None:
    first, second = failing_session()
    client = operator("view_paymentsession", "change_paymentsession")
    with receiving(Receiver()) as receiver:
        response = client.post(
            reverse(CHANGELIST), {"action": "resend_announcements", "_selected_action": [first.pk]}
        )
    assert response.status_code == 302
    assert [kwargs["event_id"] for _, kwargs in receiver.calls] == [first.pk, second.pk]
    assert [kwargs["attempt"] for _, kwargs in receiver.calls] == [3, 1]
    assert set(SessionEvent.objects.values_list("announcement", flat=True)) == {Announcement.ANNOUNCED}
    (message,) = get_messages(response.wsgi_request)
    assert str(message).startswith("2 announced, 0 failing again")


def test_send_again_needs_the_permission_to_change_sessions() -> None:
    first, _ = failing_session()
    client = operator("view_paymentsession")
    with receiving(Receiver()) as receiver:
        client.post(reverse(CHANGELIST), {"action": "resend_announcements", "_selected_action": [first.pk]})
    assert receiver.calls == []
    assert SessionEvent.objects.get(pk=first.pk).announcement == Announcement.FAILING
