"""The webhook log in the admin: read-only evidence, superuser-only deletes, and a Reprocess action."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from flinks_sessions.models import PaymentSession, WebhookDelivery
from flinks_sessions.webhooks import processing
from tests.webhooks.helpers import SECRET, SEED_BODY, status_webhook

Outcome = WebhookDelivery.Outcome
Status = PaymentSession.Status

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:flinks_sessions_webhookdelivery_changelist"


def _staff(*perms: str) -> Client:
    user = User.objects.create_user(f"operator-{User.objects.count()}", password=None, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password=None))
    return client


def test_changelist_and_detail_show_the_decoded_body(superuser_client: Client, deliver: Any) -> None:
    from flinks_sessions.signatures import sign

    deliver(body=SEED_BODY, headers={"X-Webhook-Signature": sign(SEED_BODY, SECRET), "X-Api-Key": "k3y"})
    delivery = WebhookDelivery.objects.get()
    changelist = superuser_client.get(reverse(CHANGELIST), {"outcome": "unknown_session"})
    assert changelist.status_code == 200
    assert "c14b050b-6268-4f5c-9c73-80713c80edb3" in changelist.text
    detail = superuser_client.get(reverse("admin:flinks_sessions_webhookdelivery_change", args=[delivery.pk]))
    assert detail.status_code == 200
    assert "&quot;referenceId&quot;: &quot;Happy1&quot;" in detail.text  # pretty JSON, escaped
    assert "k3y" not in detail.text
    assert 'name="_save"' not in detail.text  # read-only
    assert superuser_client.get(reverse("admin:flinks_sessions_webhookdelivery_add")).status_code == 403


def test_only_superusers_delete(superuser_client: Client, deliver: Any, make_session: Any) -> None:
    deliver(status_webhook(make_session(), "Completed", "EFT0301"))
    delivery = WebhookDelivery.objects.get()
    delete_url = reverse("admin:flinks_sessions_webhookdelivery_delete", args=[delivery.pk])
    operator = _staff("view_webhookdelivery", "change_webhookdelivery", "delete_webhookdelivery")
    assert operator.get(delete_url).status_code == 403
    assert "delete_selected" not in operator.get(reverse(CHANGELIST)).text
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not WebhookDelivery.objects.exists()


def test_reprocess_action(
    superuser_client: Client, deliver: Any, make_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed_session, applied_session = make_session(), make_session()
    deliver(status_webhook(applied_session, "Completed", "EFT0301"))
    deliver(status_webhook(failed_session, "Failed", "EFT0403", secret="forged"))
    monkeypatch.setattr(processing, "apply_report", lambda *a, **k: 1 / 0)
    deliver(status_webhook(failed_session, "Completed", "EFT0301"))
    monkeypatch.undo()
    applied, forged, errored = WebhookDelivery.objects.order_by("pk")
    assert (applied.outcome, forged.outcome, errored.outcome) == (
        Outcome.APPLIED,
        Outcome.INVALID_SIGNATURE,
        Outcome.ERROR,
    )

    response = superuser_client.post(
        reverse(CHANGELIST),
        {"action": "reprocess", "_selected_action": [applied.pk, forged.pk, errored.pk]},
        follow=True,
    )
    assert "Reprocessed 1 of 3 deliveries" in response.text
    for delivery in (applied, forged, errored):
        delivery.refresh_from_db()
    assert (applied.outcome, forged.outcome, errored.outcome) == (
        Outcome.APPLIED,
        Outcome.INVALID_SIGNATURE,
        Outcome.APPLIED,
    )
    failed_session.refresh_from_db()
    assert failed_session.status == Status.COMPLETED


def test_reprocess_needs_the_change_permission(deliver: Any, make_session: Any) -> None:
    deliver(status_webhook(make_session(), "Completed", "EFT0301"))
    viewer = _staff("view_webhookdelivery")
    page = viewer.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "reprocess" not in page.text
    assert (
        "reprocess" in _staff("view_webhookdelivery", "change_webhookdelivery").get(reverse(CHANGELIST)).text
    )
