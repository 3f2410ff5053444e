"""The GEFT guarantee end to end: the sandbox offers it over a signed webhook, the site decides, Flinks ends it.

Each test runs the real pieces: the sandbox over HTTP on loopback (it posts the offer to the app on a live
server and waits for ``/guarantees/confirm``), the receiver, the task (the test settings' ImmediateBackend runs
it after the delivery commits), and, for the manual policy, an operator in the admin.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from flinks_sessions import services
from flinks_sessions.client import GuaranteeOffer
from flinks_sessions.models import PaymentSession, SessionEvent, WebhookDelivery
from tests.conftest import flinks_settings_for
from tests.guarantee.conftest import confirm_calls, start_geft
from tests.support import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

Status = PaymentSession.Status
Decision = PaymentSession.GuaranteeDecision
CHANGELIST = "admin:flinks_sessions_paymentsession_changelist"


def accept_full_offers(session: PaymentSession, offer: GuaranteeOffer) -> bool:
    """A site's own policy (``GUARANTEE_DECISION`` names it by its dotted path): only a full guarantee."""
    return offer.offer_type == "Full"


def _ended(session: PaymentSession) -> PaymentSession | None:
    """Ended, and any decision stored: Flinks' status webhook may land before the decision's own finish."""
    session.refresh_from_db()
    return session if session.is_terminal and session.guarantee_claim is None else None


def _use_policy(settings: Any, sandbox: Any, policy: str) -> None:
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, GUARANTEE_DECISION=policy)


def test_accept_policy_completes_the_session(guarantee_sandbox: Any, signals: Any) -> None:
    session = start_geft()

    paid = guarantee_sandbox.control().pay(str(session.session_id))
    assert paid["step"]["current"] == "GuaranteeDecision"

    wait_for(lambda: _ended(session), message="the session to end")
    assert (session.status, session.status_details) == (Status.COMPLETED, "EFT0301")
    assert session.guarantee_decision == Decision.ACCEPTED
    assert session.guarantee_offer["offer_type"] == "Full"
    assert session.settled_amount == Decimal("100.00")
    assert confirm_calls(guarantee_sandbox) == 1
    offer_delivery = WebhookDelivery.objects.get(event_type="GuaranteeOffered")
    assert (offer_delivery.outcome, offer_delivery.session) == (
        WebhookDelivery.Outcome.GUARANTEE_OFFERED,
        session,
    )
    # The decision is announced after its own commit, which may come after Flinks' webhook ended the session;
    # and the offer's receivers run in turn, so the task layer's (which decides, here at once) may return
    # before this test's own receiver hears of the offer.
    wait_for(
        lambda: signals.named("guarantee_decided") and signals.named("guarantee_offered"),
        message="the offer and the decision to be announced",
    )
    [offered] = signals.named("guarantee_offered")
    assert offered["offer"].amount == Decimal(100)
    assert [(kw["accepted"], kw["source"]) for kw in signals.named("guarantee_decided")] == [
        (True, "webhook")
    ]
    kinds = list(session.events.values_list("kind", flat=True))
    assert kinds.count(SessionEvent.Kind.GUARANTEE_OFFERED) == 1
    assert kinds.count(SessionEvent.Kind.GUARANTEE_DECIDED) == 1


def test_reject_policy_fails_the_session(guarantee_sandbox: Any, settings: Any, signals: Any) -> None:
    _use_policy(settings, guarantee_sandbox, "reject")
    session = start_geft()

    guarantee_sandbox.control().pay(str(session.session_id))

    wait_for(lambda: _ended(session), message="the session to end")
    assert (session.status, session.status_details) == (Status.FAILED, "EFT0402")
    assert session.guarantee_decision == Decision.REJECTED
    # The decision is announced after its own commit, which may come after Flinks' webhook ended the session.
    wait_for(lambda: signals.named("guarantee_decided"), message="the decision to be announced")
    assert [kw["accepted"] for kw in signals.named("guarantee_decided")] == [False]
    assert confirm_calls(guarantee_sandbox) == 1


@pytest.mark.parametrize(
    ("reference", "status", "decision"),
    [("Happy1", Status.COMPLETED, Decision.ACCEPTED), ("Happy2", Status.FAILED, Decision.REJECTED)],
)
def test_a_callable_policy_decides_from_the_offer(
    guarantee_sandbox: Any, settings: Any, reference: str, status: str, decision: str
) -> None:
    """Happy1 is guaranteed in full, Happy2 gets a reduced offer: the site's callable tells them apart."""
    _use_policy(settings, guarantee_sandbox, f"{__name__}.accept_full_offers")
    session = start_geft(reference, "1000.00")

    guarantee_sandbox.control().pay(str(session.session_id))

    wait_for(lambda: _ended(session), message="the session to end")
    assert (session.status, session.guarantee_decision) == (status, decision)


def test_manual_policy_waits_for_an_operator_in_the_admin(guarantee_sandbox: Any, settings: Any) -> None:
    _use_policy(settings, guarantee_sandbox, "manual")
    session = start_geft()
    guarantee_sandbox.control().pay(str(session.session_id))
    waiting = wait_for(
        lambda: PaymentSession.objects.undecided_guarantees().first(), message="the offer to be recorded"
    )
    assert waiting == session
    assert confirm_calls(guarantee_sandbox) == 0

    operator = User.objects.create_user("operator", password="pw", is_staff=True)
    operator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_paymentsession", "decide_guarantee_paymentsession"])
    )
    client = Client()
    client.force_login(operator)
    changelist = client.get(reverse(CHANGELIST), {"guarantee": "undecided"})
    assert session.reference_id in changelist.content.decode()
    assert "Waiting for a decision" in changelist.content.decode()

    form = {"action": "accept_guarantee", "_selected_action": [session.pk]}
    confirmation = client.post(reverse(CHANGELIST), form)
    assert confirmation.status_code == 200
    assert "cannot be changed" in confirmation.content.decode()
    assert confirm_calls(guarantee_sandbox) == 0  # asking is not deciding

    done = client.post(reverse(CHANGELIST), {**form, "post": "yes"})
    assert done.status_code == 302
    wait_for(lambda: _ended(session), message="the session to end")
    assert (session.status, session.guarantee_decision) == (Status.COMPLETED, Decision.ACCEPTED)
    decided = session.events.get(kind=SessionEvent.Kind.GUARANTEE_DECIDED)
    assert (decided.source, decided.actor) == ("admin", operator)
    assert confirm_calls(guarantee_sandbox) == 1
    assert not PaymentSession.objects.undecided_guarantees().exists()


def test_the_decision_needs_its_own_permission(guarantee_sandbox: Any, settings: Any) -> None:
    _use_policy(settings, guarantee_sandbox, "manual")
    session = start_geft()
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_paymentsession", "cancel_paymentsession"])
    )
    client = Client()
    client.force_login(viewer)
    response = client.post(
        reverse(CHANGELIST), {"action": "accept_guarantee", "_selected_action": [session.pk], "post": "yes"}
    )
    assert response.status_code == 302  # "No action selected": the action is not offered to this user
    assert confirm_calls(guarantee_sandbox) == 0
    session.refresh_from_db()
    assert session.guarantee_decision == ""


def test_an_offer_nobody_acknowledges_fails_the_session_and_sync_stores_it(
    flinks_sandbox_factory: Any, settings: Any
) -> None:
    """Flinks tries the guarantee event three times; with no 2xx it fails the session, which a sync learns."""
    sandbox = flinks_sandbox_factory(
        webhook_url="http://127.0.0.1:9/flinks/webhooks/",  # discard port: nothing listens
        guarantee_webhook=True,
        guarantee_retry_delay=0.05,
    )
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url)
    session = start_geft()

    sandbox.control().pay(str(session.session_id))

    tries = wait_for(
        lambda: [record for record in sandbox.webhooks.wait_for(3) if record.get("kind") == "guarantee"][2:],
        message="three tries",
    )
    assert tries
    wait_for(lambda: sandbox.state.get(str(session.session_id)).terminal, message="the sandbox to fail it")
    assert [record["attempt"] for record in sandbox.webhook_deliveries if record.get("kind")] == [1, 2, 3]

    assert services.sync_session(session).outcome is services.SyncOutcome.CHANGED
    assert (session.status, session.status_details) == (Status.FAILED, "EFT0402")


def test_a_reduced_offer_is_settled_and_announced(guarantee_sandbox: Any, signals: Any) -> None:
    """Happy2: $1,000 asked, $500 guaranteed (Next Best Offer); accepted, Flinks settles $500."""
    session = start_geft("Happy2", "1000.00")

    guarantee_sandbox.control().pay(str(session.session_id))

    wait_for(lambda: _ended(session), message="the session to end")
    assert (session.status, session.amount, session.settled_amount) == (
        Status.COMPLETED,
        Decimal("1000.00"),
        Decimal("500.00"),
    )
    reduced = session.events.get(kind=SessionEvent.Kind.AMOUNT_REDUCED)
    assert reduced.payload == {"requested": "1000.00", "settled": "500.00"}
    announced = wait_for(lambda: signals.named("amount_reduced"), message="amount_reduced")
    assert [(kw["requested"], kw["settled"], kw["source"]) for kw in announced] == [
        (Decimal("1000.00"), Decimal("500.00"), "webhook")
    ]


def test_a_geft_session_without_an_amount_settles_what_the_shopper_entered(guarantee_sandbox: Any) -> None:
    session = start_geft(amount=None)
    assert session.amount is None

    guarantee_sandbox.control().pay(str(session.session_id))

    wait_for(lambda: _ended(session), message="the session to end")
    assert (session.status, session.settled_amount) == (Status.COMPLETED, Decimal("100.00"))
    assert not session.events.filter(kind=SessionEvent.Kind.AMOUNT_REDUCED).exists()


def test_sync_names_the_guarantees_waiting_for_a_decision(guarantee_sandbox: Any, settings: Any) -> None:
    _use_policy(settings, guarantee_sandbox, "manual")
    session = start_geft()
    other = start_geft()
    guarantee_sandbox.control().pay(str(session.session_id))
    wait_for(lambda: PaymentSession.objects.undecided_guarantees().exists(), message="the offer")

    out, err = StringIO(), StringIO()
    call_command("flinks_sync_sessions", "--undecided-guarantees", stdout=out, stderr=err)

    assert "Synced 1 of 1" in out.getvalue()  # only the session whose guarantee waits
    assert f"{session.reference_id} ({session.session_id})" in err.getvalue()
    assert str(other.session_id) not in err.getvalue()
