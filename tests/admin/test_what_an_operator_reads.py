"""What a new operator met on the admin's pages, each fixed and pinned here: no field said twice, no settled
amount where nothing settled, words instead of codes (English and French), times to the second, and a reduced
guarantee offer visible in the list."""

from __future__ import annotations

import html
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from flinks_sessions.models import PaymentSession, SessionEvent
from flinks_sessions.status import Product, Status
from tests.admin.test_cancel_columns import _keep_language, stored
from tests.i18n.test_french import with_locale_middleware

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:flinks_sessions_paymentsession_changelist"
__all__ = ["_keep_language"]  # autouse: each test starts in English


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


def french(client: Client, settings: Any) -> Client:
    settings.MIDDLEWARE = with_locale_middleware(settings.MIDDLEWARE)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "fr"
    return client


def text_of(client: Client, url: str) -> str:
    body = client.get(url).content.decode()
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def change_page(client: Client, session: PaymentSession) -> str:
    return text_of(client, reverse("admin:flinks_sessions_paymentsession_change", args=[session.pk]))


def test_the_changelist_shows_a_reduced_offer_beside_the_amount_asked(admin_client: Client) -> None:
    asked = Decimal("1000")
    stored(
        "REDUCED", amount=asked, status=Status.COMPLETED, product=Product.GEFT, settled_amount=Decimal("500")
    )
    stored("FULL", amount=asked, status=Status.COMPLETED, settled_amount=asked)
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    row = next(line for line in body.split("<tr") if "REDUCED" in line)
    assert re.search(r"500[.,]00\s*<s>1,?000[.,]00</s>", row), row
    full = next(line for line in body.split("<tr") if "FULL" in line)
    assert "<s>" not in full


@pytest.fixture
def cancelled_by_beacon() -> PaymentSession:
    """A beacon's cancel, confirmed: what a session's page showed with repeats and raw codes."""
    now = timezone.now()
    session = stored(
        "LEFT",
        status=Status.CANCELLED,
        status_details="EFT0501",
        settled_amount=Decimal("1000"),  # Flinks' /status reports the amount of a cancelled session too
        cancel_requested_at=now,
        cancel_source="beacon",
        cancel_reason="pagehide",
        cancelled_at=now,
    )
    SessionEvent.objects.create(session=session, kind="created", to_status="initiated", source="api")
    SessionEvent.objects.create(session=session, kind="cancel_attempt", source="beacon", reason="pagehide")
    SessionEvent.objects.create(
        session=session, kind="transition", from_status="initiated", to_status="cancelled", source="beacon"
    )
    SessionEvent.objects.create(session=session, kind="restarted", source="api", reason="restarted")
    return session


def test_a_session_page_says_each_thing_once_and_no_settled_amount_when_cancelled(
    admin_client: Client, cancelled_by_beacon: PaymentSession
) -> None:
    text = change_page(admin_client, cancelled_by_beacon)
    assert text.lower().count("cancel requested by") == 1
    assert "Settled amount" not in text


def test_a_geft_session_page_shows_its_guarantee_once(admin_client: Client) -> None:
    session = stored(
        "GEFT",
        product=Product.GEFT,
        status=Status.COMPLETED,
        guarantee_offered_at=timezone.now(),
        guarantee_decision="accepted",
        guarantee_decided_at=timezone.now(),
    )
    text = change_page(admin_client, session)
    assert "Guarantee:" in text
    assert "Guarantee decision" not in text


def test_the_audit_trail_reads_in_words_with_the_time_to_the_second(
    admin_client: Client, cancelled_by_beacon: PaymentSession
) -> None:
    text = change_page(admin_client, cancelled_by_beacon)
    for code in ("initiated → cancelled (beacon)", "Created (api)", "(beacon)", "pagehide", "start again"):
        assert code not in text
    assert "Initiated → Cancelled (Shopper's browser)" in text
    assert "Created (Site code)" in text
    assert "Left the page" in text
    assert "Started again" in text
    assert re.search(r"Cancelled at:?\s+\S+ \d{2}:\d{2}:\d{2}", text), (
        "the change page's times stop at the minute"
    )


def test_the_audit_trail_reads_in_french(
    admin_client: Client, cancelled_by_beacon: PaymentSession, settings: Any
) -> None:
    text = change_page(french(admin_client, settings), cancelled_by_beacon)
    for code in ("initiated", "cancelled", "pagehide", "start again", "Shopper's browser"):
        assert code not in text
    assert "Amorcée → Annulée (Navigateur du client)" in text
    assert "A quitté la page" in text
    assert "Recommencé" in text


def test_a_decision_the_sites_policy_made_is_attributed_to_the_policy(admin_client: Client) -> None:
    session = stored("POLICY", product=Product.GEFT, guarantee_decision="accepted")
    SessionEvent.objects.create(
        session=session, kind="guarantee_decided", source="webhook", reason="accepted"
    )
    text = change_page(admin_client, session)
    assert "Flinks webhook" not in text
    assert "The site's guarantee policy" in text


def test_the_deliveries_list_shows_short_ids_and_times_to_the_second(admin_client: Client) -> None:
    from flinks_sessions.models import WebhookDelivery

    flinks_id = uuid.uuid4()
    WebhookDelivery.objects.create(
        body=b"{}", flinks_session_id=flinks_id, event_type="SessionSetupStatusChanged"
    )
    body = admin_client.get(reverse("admin:flinks_sessions_webhookdelivery_changelist")).content.decode()
    assert f">{flinks_id}<" not in body  # the whole id is the tooltip, not three wrapped lines
    assert f'title="{flinks_id}"' in body
    assert re.search(r"\d{2}:\d{2}:\d{2}", body)
    assert "flinks_sessions/admin.css" in body  # where the columns' widths are kept
