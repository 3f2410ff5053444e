"""``BEACON_MAX_BODY`` for a body the parsers do not bound themselves.

The form, text and JSON parsers stop reading at the limit; Django's multipart parser does not, so the view's
check of the declared ``Content-Length`` (before anything is read) is what answers 413 there.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from flinks_sessions.models import PaymentSession

pytestmark = pytest.mark.django_db


def test_a_multipart_body_over_the_limit_is_413(
    client: Client, settings: Any, stored_session: PaymentSession, token: str, recorded_tasks: list[Any]
) -> None:
    settings.FLINKS_SESSIONS = {**settings.FLINKS_SESSIONS, "BEACON_MAX_BODY": 1024}
    url = reverse("flinks_sessions:session-exit", kwargs={"session_id": stored_session.session_id})
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, {"token": token, "padding": "x" * 1100})  # multipart/form-data

    assert response.status_code == 413
    stored_session.refresh_from_db()
    assert stored_session.cancel_requested_at is None
    assert recorded_tasks == []
