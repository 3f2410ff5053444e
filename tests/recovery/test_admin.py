"""The operator's view of recovery: the column, the filter, the session page and the abandonment page's figures."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.services import send_recovery_notices
from flinks_sessions.status import Status
from tests.extras import import_or_missing
from tests.factories import new_session
from tests.recovery.helpers import abandoned, recovery_settings

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "admin:flinks_sessions_paymentsession_changelist"


@pytest.fixture
def operator(admin_user: Any, settings: Any) -> Client:
    recovery_settings(settings)
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def orders() -> dict[str, PaymentSession]:
    """One order in each recovery state."""
    made = {
        "sent": abandoned(reference_id="R-SENT"),
        "opened": abandoned(reference_id="R-OPENED"),
        "recovered": abandoned(reference_id="R-PAID", amount="25.00"),
        "failed": abandoned(reference_id="R-FAILED"),
    }
    assert [r.outcome.value for r in send_recovery_notices()] == ["sent"] * 4
    RecoveryNotice.objects.filter(reference_id="R-OPENED").update(opened_at=timezone.now())
    RecoveryNotice.objects.filter(reference_id="R-FAILED").update(state="failed", error="SMTP down")
    new_session(
        reference_id="R-PAID", status=Status.COMPLETED, amount="25.00", restarted_from=made["recovered"]
    )
    made["due"] = abandoned(reference_id="R-DUE")
    made["declined"] = abandoned(reference_id="R-NO", consent=False)
    return made


def references(response: Any) -> set[str]:
    return {session.reference_id for session in response.context["cl"].result_list}


def test_the_column_says_each_state_and_the_filter_selects_it(
    operator: Client, orders: dict[str, PaymentSession], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(12):
        page = operator.get(reverse(CHANGELIST)).content.decode()
    for state, words in (
        ("sent", "Sent"),
        ("opened", "Opened"),
        ("recovered", "Recovered"),
        ("failed", "Failed"),
        ("due", "Due"),
        ("declined", "No consent"),
    ):
        assert f'flinks-recovery--{state}" title="' in page
        assert re.search(f'flinks-recovery--{state}" title="[^"]*">{re.escape(words)}<', page), state
    for state in ("due", "sent", "opened", "recovered", "declined"):
        found = references(operator.get(reverse(CHANGELIST), {"recovery": state}))
        assert found == {orders[state].reference_id}, state


def test_the_session_page_shows_the_notice_and_what_came_of_it(
    operator: Client, orders: dict[str, PaymentSession]
) -> None:
    url = reverse("admin:flinks_sessions_paymentsession_change", args=[orders["recovered"].pk])
    page = operator.get(url).content.decode()
    assert "The payer consented to a reminder." in page
    assert "the order was paid" in page
    declined = reverse("admin:flinks_sessions_paymentsession_change", args=[orders["declined"].pk])
    assert "no reminder is ever sent" in operator.get(declined).content.decode()


def test_the_abandonment_page_counts_recovered_checkouts(
    operator: Client, orders: dict[str, PaymentSession]
) -> None:
    response = operator.get(reverse("admin:flinks_sessions_paymentsession_abandonment"))
    tiles = {str(label): value for label, value in response.context["recovery_tiles"]}
    assert tiles == {
        "Recovery notices sent": "3",  # the failed one was not sent
        "Checkouts recovered": "1",
        "Amount recovered": "25.00",
        "Recovery rate": "33.3%",
    }


def test_the_metrics_count_notices_sent_links_used_and_checkouts_recovered(
    orders: dict[str, PaymentSession],
) -> None:
    parser = import_or_missing(
        "prometheus_client.parser", "the metrics extra (prometheus-client) is not installed"
    )
    from flinks_sessions import metrics
    from flinks_sessions.api.metrics import read_backlog
    from flinks_sessions.services.recovery import record_link_used

    record_link_used(orders["opened"])
    body, _type = metrics.exposition(lambda: read_backlog(timedelta(minutes=30)))
    families = {family.name: family for family in parser.text_string_to_metric_families(body.decode())}
    notices = {s.labels["state"]: s.value for s in families["flinks_sessions_recovery_notices"].samples}
    assert notices == {"sent": 3.0, "recovered": 1.0}
    events = {
        s.labels["event"]: s.value
        for s in families["flinks_sessions_recovery"].samples
        if s.name == "flinks_sessions_recovery_total"
    }
    assert events["notice_sent"] >= 4
    assert events["link_used"] >= 1
