"""One recovery notice per order: consent first, the order's state decides, and nothing is ever sent twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services import send_recovery_notices
from flinks_sessions.services.recovery import RecoveryOutcome, _Notice
from flinks_sessions.services.recovery_link import read_recovery_token
from flinks_sessions.status import Source, Status
from tests.factories import new_session
from tests.recovery.helpers import abandoned, notices, recovery_settings, use_mail_backend

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _due_at_once(settings: Any) -> None:
    recovery_settings(settings)


def outcomes(results: list[Any]) -> list[str]:
    return [result.outcome.value for result in results]


def test_a_consenting_abandoned_order_gets_one_notice_with_its_link() -> None:
    session = abandoned(reference_id="ORDER-9")
    with notices() as heard:
        first = send_recovery_notices()
        second = send_recovery_notices()
        named = send_recovery_notices([PaymentSession.objects.get(pk=session.pk)])
    assert outcomes(first) == ["sent"]
    assert second == []  # no longer due: the sweep selects nothing
    assert outcomes(named) == ["already_sent"]
    assert len(heard) == 1
    assert heard[0]["session"] == session
    token = heard[0]["url"].rstrip("/").rsplit("/", 1)[-1]
    assert read_recovery_token(token) == session.session_id
    notice = RecoveryNotice.objects.get()
    assert (notice.reference_id, notice.account, notice.state) == ("ORDER-9", "default", "sent")
    assert notice.sent_at is not None
    session.refresh_from_db()
    assert session.recovery_claim is None  # released by the engine's finish


def test_no_consent_no_notice_ever() -> None:
    session = abandoned(consent=False)
    with notices() as heard:
        assert send_recovery_notices() == []
        assert outcomes(send_recovery_notices([session])) == ["no_consent"]
    assert heard == []
    assert not RecoveryNotice.objects.exists()


def test_a_completed_order_or_one_with_a_newer_open_session_gets_none() -> None:
    paid = abandoned(reference_id="PAID")
    new_session(reference_id="PAID", status=Status.COMPLETED)
    reopened = abandoned(reference_id="OPEN")
    new_session(reference_id="OPEN", status=Status.INITIATED)
    with notices() as heard:
        assert send_recovery_notices() == []
        results = send_recovery_notices([paid, reopened])
    assert outcomes(results) == ["not_due", "not_due"]
    assert all("completed or has an open session" in result.error for result in results)
    assert heard == []


def test_a_chain_of_restarts_gets_one_notice_naming_its_newest_session() -> None:
    first = abandoned(reference_id="CHAIN", status=Status.CANCELLED)
    second = abandoned(reference_id="CHAIN", restarted_from=first, ended_ago=timedelta(hours=1))
    with notices() as heard:
        results = send_recovery_notices()
        again = send_recovery_notices([first, second])
    assert outcomes(results) == ["sent"]
    assert [kwargs["session"] for kwargs in heard] == [second]
    assert sorted(outcomes(again)) == ["already_sent", "already_sent"]


def test_two_unchained_sessions_of_one_order_named_together_send_one() -> None:
    one = abandoned(reference_id="TWICE")
    two = abandoned(reference_id="TWICE", ended_ago=timedelta(hours=1))
    with notices() as heard:
        results = send_recovery_notices([one, two])
    assert sorted(outcomes(results)) == ["already_sent", "sent"]
    assert len(heard) == 1
    assert RecoveryNotice.objects.count() == 1


def test_the_same_reference_on_two_accounts_is_two_orders(settings: Any) -> None:
    accounts = settings.FLINKS_SESSIONS["ACCOUNTS"]
    recovery_settings(settings, ACCOUNTS={**accounts, "geft": accounts["default"]})
    abandoned(reference_id="SHARED")
    abandoned(reference_id="SHARED", account="geft")
    with notices() as heard:
        assert outcomes(send_recovery_notices()) == ["sent", "sent"]
    assert len(heard) == 2


def test_not_before_the_delay_nor_for_a_cancel_the_shopper_did_not_cause(settings: Any) -> None:
    recovery_settings(settings, RECOVERY_DELAY=3600)
    recent = abandoned(reference_id="RECENT", ended_ago=timedelta(minutes=5))
    by_operator = abandoned(reference_id="ADMIN", status=Status.CANCELLED, cancel_source=Source.ADMIN)
    with notices() as heard:
        assert send_recovery_notices() == []
        results = send_recovery_notices([recent, by_operator])
    assert outcomes(results) == ["not_due", "not_due"]
    assert "RECOVERY_DELAY" in results[0].error
    assert "did not end abandoned" in results[1].error
    assert heard == []


def test_an_order_that_goes_on_between_the_claim_and_the_send_gets_none(monkeypatch: Any) -> None:
    session = abandoned(reference_id="RACE")
    claimed = _Notice.claimed

    def then_paid(self: Any, sessions: list[PaymentSession]) -> None:
        claimed(self, sessions)
        new_session(reference_id="RACE", status=Status.COMPLETED)

    monkeypatch.setattr(_Notice, "claimed", then_paid)
    with notices() as heard:
        assert outcomes(send_recovery_notices([session])) == ["withdrawn"]
    assert heard == []
    assert RecoveryNotice.objects.get().state == "withdrawn"


def test_a_crash_between_the_send_and_the_record_never_sends_again(monkeypatch: Any) -> None:
    """At most once: the notice row was committed with the claim; a dead finish leaves it, and nothing resends."""
    session = abandoned(reference_id="CRASH")

    def dies(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise SystemError("worker killed after the send")

    with notices() as heard:
        monkeypatch.setattr(_Notice, "store", dies)
        assert outcomes(send_recovery_notices()) == ["failed"]
        monkeypatch.undo()
        # The claim passes its TTL, as if its worker were dead; later sweeps find nothing due.
        PaymentSession.objects.filter(pk=session.pk).update(recovery_claimed_at="2000-01-01T00:00Z")
        assert send_recovery_notices() == []
        assert outcomes(send_recovery_notices([PaymentSession.objects.get(pk=session.pk)])) == [
            "already_sent"
        ]
    assert len(heard) == 1
    assert RecoveryNotice.objects.get().state == "sending"


def test_a_restart_inherits_consent_and_start_stores_it(sandbox: Any) -> None:
    from flinks_sessions.services import restart_session, start_session
    from tests.factories import PAYOR

    session = start_session(amount="5.00", reference_id="CONSENT", payor=PAYOR, recovery_consent=True)
    assert PaymentSession.objects.get(pk=session.pk).recovery_consent is True
    successor = restart_session(session).session
    assert successor.recovery_consent is True
    assert start_session(amount="5.00", reference_id="NO", payor=PAYOR).recovery_consent is False


def test_the_email_is_sent_in_the_payers_language_with_only_the_link(settings: Any) -> None:
    recovery_settings(settings, RECOVERY_EMAIL=True, RECOVERY_SITE_URL="https://shop.example")
    abandoned(reference_id="EN-1", amount="42.50")
    abandoned(reference_id="FR-1", amount="1234.50", metadata={"language": "fr"})
    with notices() as heard:
        assert outcomes(send_recovery_notices()) == ["sent", "sent"]
    assert all(kwargs["emailed"] for kwargs in heard)
    english, french = sorted(mail.outbox, key=lambda message: "FR-1" in message.subject)
    assert english.to == ["john@example.com"]
    assert english.subject == "Your order EN-1 is waiting for you"
    assert "42.50 CAD" in english.body
    assert "asked to be reminded" in english.body
    url = next(kwargs["url"] for kwargs in heard if kwargs["session"].reference_id == "EN-1")
    assert url.startswith("https://shop.example/flinks/recover/")
    assert url in english.body
    html, kind = english.alternatives[0]
    assert kind == "text/html"
    assert f'href="{url}"' in html
    assert french.subject == "Votre commande FR-1 vous attend"
    assert "1 234,50" in french.body.replace("\u202f", " ").replace("\xa0", " ")
    secret = settings.FLINKS_SESSIONS["ACCOUNTS"]["default"]["CLIENT_SECRET"]
    for message in mail.outbox:
        text = message.body + message.alternatives[0][0]
        assert secret not in text
        assert str(heard[0]["session"].session_id) not in text
    assert RecoveryNotice.objects.filter(emailed=True).count() == 2


def test_a_failing_email_backend_records_a_failed_notice_not_retried(settings: Any) -> None:
    recovery_settings(settings, RECOVERY_EMAIL=True)
    use_mail_backend(settings, "tests.recovery.failing_mail.Backend")
    abandoned(reference_id="SMTP")
    results = send_recovery_notices()
    assert outcomes(results) == ["failed"]
    assert "ConnectionRefusedError" in results[0].error
    notice = RecoveryNotice.objects.get()
    assert (notice.state, notice.sent_at) == ("failed", None)
    assert send_recovery_notices() == []
    assert RecoveryOutcome.FAILED.value == "failed"


def test_an_order_older_than_its_link_would_live_is_not_reminded() -> None:
    """Switching recovery on never mails the whole history: only sessions started within RECOVERY_LINK_MAX_AGE."""
    old = abandoned(reference_id="OLD")
    PaymentSession.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    with notices() as heard:
        assert send_recovery_notices() == []
        results = send_recovery_notices([PaymentSession.objects.get(pk=old.pk)])
    assert [(r.outcome.value, r.error) for r in results] == [
        ("not_due", "it started longer ago than RECOVERY_LINK_MAX_AGE")
    ]
    assert heard == []
