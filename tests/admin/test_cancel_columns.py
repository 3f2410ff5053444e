"""What an operator reads in the PaymentSession admin, in English and in French: the cancel intent's columns and
filters, detail codes with their meaning, attribution, times to the second, who may delete, result sentences."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from flinks_sessions.status import Status
from flinks_sessions.sweeps.summary import RunSummary, describe_cancel_action, describe_sync_action
from tests.factories import new_session
from tests.i18n.test_french import with_locale_middleware

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
CHANGELIST = "admin:flinks_sessions_paymentsession_changelist"
# (language, what each label reads like in it)
WORDS = {
    "en": {
        "waiting": "Shopper's browser; waiting",
        "failed": "Operator (admin); failed: Flinks answered 503",
        "meaning": "Cancelled by an API request",
        "asked": "Asked by Operator (admin), operator; confirmed by Flinks webhook.",
        "by": "Flinks webhook, asked by Operator (admin), operator",
        "kind": "Status changed",
    },
    "fr": {
        "waiting": f"Navigateur du client{NBSP}; en attente",
        "failed": f"Opérateur (admin){NBSP}; échec{NBSP}: Flinks answered 503",
        "meaning": "Annulée par une requête d\u2019API",
        "asked": f"Demandée par Opérateur (admin), operator{NBSP}; confirmée par Webhook de Flinks.",
        "by": "Webhook de Flinks, à la demande de Opérateur (admin), operator",
        "kind": "Changement de statut",
    },
}


def stored(reference: str, **fields: Any) -> PaymentSession:
    return new_session(reference_id=reference, **fields)


@pytest.fixture(autouse=True)
def _keep_language() -> Iterator[None]:
    """LocaleMiddleware activates the page's language in this thread; the next test must not inherit it."""
    with translation.override("en"):
        yield


def page(client: Client, url: str, query: dict[str, str] | None = None) -> str:
    return html.unescape(client.get(url, query).content.decode())


@pytest.fixture(params=["en", "fr"])
def language(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.MIDDLEWARE = with_locale_middleware(settings.MIDDLEWARE)
    return str(request.param)


@pytest.fixture
def operator() -> User:
    user = User.objects.create_user("operator", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="flinks_sessions",
            codename__in=["view_paymentsession", "change_paymentsession", "delete_paymentsession",
                          "cancel_paymentsession", "delete_webhookdelivery", "view_webhookdelivery"],
        )
    )  # fmt: skip
    return user


def browser(user: User, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.fixture
def sessions(operator: User) -> dict[str, PaymentSession]:
    now = timezone.now()
    waiting = stored("WAITING", cancel_requested_at=now, cancel_source="beacon", cancel_reason="pagehide")
    failing = stored(
        "FAILING",
        cancel_requested_at=now,
        cancel_source="admin",
        last_error="Flinks answered 503",
        attempt_count=2,
        cancel_failed_at=now,
    )
    done = stored(
        "DONE",
        status=Status.CANCELLED,
        status_details="EFT0501",
        cancel_requested_at=now,
        cancel_source="admin",
        cancelled_at=now,
    )
    SessionEvent.objects.create(session=done, kind="cancel_attempt", source="admin", actor=operator)
    SessionEvent.objects.create(
        session=done, kind="transition", from_status="initiated", to_status="cancelled", source="webhook"
    )
    untouched = stored("UNTOUCHED", status=Status.COMPLETED, status_details="EFT0301")
    return {"waiting": waiting, "failing": failing, "done": done, "untouched": untouched}


def test_the_changelist_shows_the_cancel_intent_and_detail_meanings(
    language: str, operator: User, sessions: dict[str, PaymentSession]
) -> None:
    text = page(browser(operator, language), reverse(CHANGELIST))
    words = WORDS[language]
    assert words["waiting"] in text
    assert words["failed"] in text
    assert f'title="{words["meaning"]}">EFT0501</abbr>' in text
    full = str(sessions["done"].session_id)
    assert f'<span class="flinks-id" title="{full}">{full[:8]}…</span>' in text
    assert re.search(r"\d{2}:\d{2}:\d{2}", text)  # created at, to the second


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"cancel": "pending"}, {"WAITING"}),
        ({"cancel": "failed"}, {"FAILING"}),
        ({"cancel": "cancelled"}, {"DONE"}),
        ({"cancel": "none"}, {"UNTOUCHED"}),
        ({"cancel_source": "admin"}, {"FAILING", "DONE"}),
        ({"cancel_source": "beacon"}, {"WAITING"}),
    ],
)
def test_filters_find_waiting_failing_and_done_cancels(
    operator: User, sessions: dict[str, PaymentSession], query: dict[str, str], expected: set[str]
) -> None:
    response = browser(operator).get(reverse(CHANGELIST), query)
    assert {session.reference_id for session in response.context["cl"].result_list} == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("undecided", {"OFFERED"}), ("accepted", {"ACCEPTED"}), ("rejected", {"REJECTED"}), ("", None)],
)
def test_the_guarantee_filter_finds_each_decision(
    operator: User, choice: str, expected: set[str] | None
) -> None:
    offered = {"product": "geft", "guarantee_offered_at": timezone.now()}
    stored("OFFERED", **offered)
    stored("ACCEPTED", **offered, guarantee_decision="accepted")
    stored("REJECTED", **offered, guarantee_decision="rejected")
    stored("EFT")
    response = browser(operator).get(reverse(CHANGELIST), {"guarantee": choice} if choice else {})
    found = {session.reference_id for session in response.context["cl"].result_list}
    assert found == (expected or {"OFFERED", "ACCEPTED", "REJECTED", "EFT"})


def test_the_filters_are_labelled_in_french(language: str, operator: User, sessions: Any) -> None:
    text = page(browser(operator, language), reverse(CHANGELIST))
    label = "Requested, failed (retried)" if language == "en" else "Demandée, en échec (nouvel essai prévu)"
    assert label in text


def test_the_change_page_says_who_asked_and_who_confirmed(
    language: str, operator: User, sessions: dict[str, PaymentSession]
) -> None:
    done = sessions["done"]
    html = (
        browser(operator, language)
        .get(reverse("admin:flinks_sessions_paymentsession_change", args=[done.pk]))
        .content.decode()
    )
    words = WORDS[language]
    assert words["asked"] in html
    assert words["by"] in html  # the audit line of the webhook's confirmation names the operator too
    assert words["kind"] in html
    assert f"EFT0501 ({words['meaning']})" in html
    assert re.search(r"\d{2}:\d{2}:\d{2}", html)


def test_the_change_page_shows_only_what_applies(operator: User, sessions: dict[str, PaymentSession]) -> None:
    untouched = sessions["untouched"]
    response = browser(operator).get(
        reverse("admin:flinks_sessions_paymentsession_change", args=[untouched.pk])
    )
    titles = [fieldset.name for fieldset in response.context["adminform"]]
    assert titles == [None, "Timestamps"]  # no cancellation, reconciliation, restart or metadata sections
    failing = sessions["failing"]
    response = browser(operator).get(
        reverse("admin:flinks_sessions_paymentsession_change", args=[failing.pk])
    )
    titles = [fieldset.name for fieldset in response.context["adminform"]]
    assert titles == [None, "Cancellation", "Reconciliation with Flinks", "Timestamps"]


def test_only_a_superuser_may_delete_sessions_and_deliveries(operator: User, sessions: Any) -> None:
    session = sessions["done"]
    delivery = WebhookDelivery.objects.create(body=b"{}")
    staff = browser(operator)
    assert (
        "delete_selected"
        not in staff.get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices.__str__()
    )
    assert (
        staff.get(reverse("admin:flinks_sessions_paymentsession_delete", args=[session.pk])).status_code
        == 403
    )
    assert (
        staff.get(reverse("admin:flinks_sessions_webhookdelivery_delete", args=[delivery.pk])).status_code
        == 403
    )
    boss = browser(User.objects.create_superuser("boss", "boss@example.com", None))
    assert (
        boss.get(reverse("admin:flinks_sessions_paymentsession_delete", args=[session.pk])).status_code == 200
    )
    assert (
        boss.get(reverse("admin:flinks_sessions_webhookdelivery_delete", args=[delivery.pk])).status_code
        == 200
    )


def summary(failed: int = 0, error: str = "", **counts: int) -> RunSummary:
    result = RunSummary(
        total=sum(counts.values()) + failed, counts=Counter(counts), failed=failed, first_error=error
    )
    result.counts["failed"] += failed
    return result


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "3 sessions were cancelled at Flinks. 1 had already ended."),
        ("fr", "3 sessions ont été annulées chez Flinks. 1 était déjà terminée."),
    ],
)
def test_a_result_is_a_sentence_without_zeros(language: str, expected: str) -> None:
    with translation.override(language):
        assert describe_cancel_action(summary(cancelled=3, already_terminal=1, not_found=0)) == expected


def test_failures_and_nothing_done_read_as_sentences() -> None:
    assert describe_cancel_action(summary(failed=1, error="abc: Flinks answered 503")) == (
        "1 failed and will be retried (first error: abc: Flinks answered 503)."
    )
    assert describe_cancel_action(summary()) == "No session was cancelled."
    assert describe_sync_action(summary(changed=1, unchanged=2)) == (
        "1 session changed status at Flinks. 2 were unchanged."
    )
    with translation.override("fr"):
        assert describe_sync_action(summary()) == "Aucune session n\u2019a été synchronisée."


def test_a_failed_sync_under_a_standing_cancel_reads_waiting_not_failed(operator: User) -> None:
    """Only a failed *cancel* reads failed: a failed sync keeps its error in last_error, not cancel_failed_at."""
    stored(
        "SYNC-FAILED",
        cancel_requested_at=timezone.now(),
        cancel_source="beacon",
        last_error="Flinks answered 503",
        attempt_count=1,
    )

    text = page(browser(operator), reverse(CHANGELIST))

    assert WORDS["en"]["waiting"] in text
    assert "failed:" not in text
