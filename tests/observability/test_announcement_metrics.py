"""On call sees announcements owed to the shop: a gauge read at scrape time and a counter of receiver failures."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from flinks_sessions.models import Announcement, SessionEvent
from flinks_sessions.status import Status
from tests.announce_helpers import Receiver, move, receiving
from tests.factories import new_session
from tests.observability.conftest import moved, sample, samples

pytestmark = pytest.mark.django_db


def owed(client: Client) -> dict[str, float]:
    families = {
        family.name: family
        for family in text_string_to_metric_families(client.get("/metrics").content.decode())
    }
    return {s.labels["state"]: s.value for s in families["flinks_sessions_announcements_pending"].samples}


def test_a_receiver_that_raises_counts_a_failure_and_shows_in_the_gauge(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    assert owed(client) == {"failing": 0, "pending": 0}
    before = samples()
    failing, announced, crashed = new_session(), new_session(), new_session()
    with receiving(Receiver(lambda name, kwargs: kwargs["session"].pk == failing.pk)):
        with django_capture_on_commit_callbacks(execute=True):
            move(failing, Status.IN_PROGRESS, "InProgress")
            move(announced, Status.IN_PROGRESS, "InProgress")
        move(crashed, Status.IN_PROGRESS, "InProgress")  # its worker never ran the after-commit step

    assert moved(before, samples()).get(sample("announcement_failures_total", kind="transition")) == 1
    assert owed(client) == {"failing": 1, "pending": 1}
    assert SessionEvent.objects.filter(session=announced).get().announcement == Announcement.ANNOUNCED
