"""The PaymentSession admin as an operator uses it: a logged-in staff user, the test client, the sandbox over HTTP.

Every test that cancels runs twice, with and without ``ATOMIC_REQUESTS``: the service refuses to run inside a
transaction (it commits its claim before calling Flinks), so a cancelling view that forgot
``non_atomic_requests`` fails here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from flinks_sessions.admin.sessions import PaymentSessionAdmin
from flinks_sessions.models import PaymentSession, SessionEvent
from tests.cancel_helpers import cancel_calls, make_session, make_sessions, signal_log
from tests.factories import new_session

pytestmark = pytest.mark.django_db

Status = PaymentSession.Status
CHANGELIST = "admin:flinks_sessions_paymentsession_changelist"


def staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", password=None, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="flinks_sessions", codename__in=codenames)
    )
    return user


@pytest.fixture(params=[False, True], ids=["autocommit", "atomic-requests"])
def atomic_requests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", request.param)
    return bool(request.param)


@pytest.fixture
def operator() -> User:
    return staff(
        "operator",
        "view_paymentsession",
        "change_paymentsession",
        "cancel_paymentsession",
        "sync_paymentsession",
    )


@pytest.fixture
def viewer() -> User:
    """Staff who may look at sessions and edit their metadata, but neither cancel nor sync them."""
    return staff("viewer", "view_paymentsession", "change_paymentsession")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def change_url(session: PaymentSession) -> str:
    return reverse("admin:flinks_sessions_paymentsession_change", args=[session.pk])


def cancel_url(session: PaymentSession) -> str:
    return reverse("admin:flinks_sessions_paymentsession_cancel", args=[session.pk])


def action_choices(response: Any) -> set[str]:
    form = response.context["action_form"]  # None when the user may run no action at all
    return {name for name, _label in form.fields["action"].choices} if form is not None else set()


# --- the changelist ------------------------------------------------------------------------------------------


def test_changelist_shows_badges_filters_and_searches(sandbox: Any, operator: User) -> None:
    owner = User.objects.create_user("shopper", "shopper@example.com")
    paid = make_session(sandbox, reference="PAID-1", status=Status.COMPLETED, owner=owner)
    make_session(sandbox, reference="OPEN-1")
    client = client_for(operator)

    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="flinks-status flinks-status-completed"' in html
    assert 'class="flinks-status flinks-status-initiated"' in html
    filter_titles = {str(spec.title) for spec in response.context["cl"].filter_specs}
    assert {"status", "product", "Flinks account", "created at"} <= filter_titles
    assert response.context["cl"].date_hierarchy == "created_at"

    for term in (str(paid.session_id), "PAID-1", "shopper", "shopper@example.com"):
        found = client.get(reverse(CHANGELIST), {"q": term}).context["cl"].result_list
        assert [session.pk for session in found] == [paid.pk], term
    filtered = client.get(reverse(CHANGELIST), {"status__exact": "initiated"}).context["cl"].result_list
    assert [session.reference_id for session in filtered] == ["OPEN-1"]


def test_changelist_query_count_does_not_grow_with_rows(sandbox: Any, operator: User) -> None:
    client = client_for(operator)
    counts = []
    for total in (5, 50):
        PaymentSession.objects.all().delete()
        owners = [User.objects.create_user(f"owner-{total}-{n}") for n in range(total)]
        for owner in owners:
            make_session(sandbox, reference=f"R{total}-{owner.pk}", owner=owner)
        client.get(reverse(CHANGELIST))  # warm the session and permission caches alike
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(CHANGELIST))
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == total
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_flinks_owned_fields_are_read_only(sandbox: Any, operator: User) -> None:
    session = make_session(sandbox, metadata={"order": 1})
    admin_obj = PaymentSessionAdmin(PaymentSession, admin.site)
    editable = {field.name for field in PaymentSession._meta.fields if field.editable} - {"id"}
    assert editable - set(admin_obj.readonly_fields) == {"metadata", "status"}
    assert "status_badge" in admin_obj.readonly_fields  # the status is shown, never edited
    client = client_for(operator)
    response = client.get(change_url(session))
    # Metadata is shown, not edited: nothing on the page is a form field, and there is no Save button.
    assert list(response.context["adminform"].form.fields) == []
    html = response.content.decode()
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert '<pre class="flinks-json">{\n  &quot;order&quot;: 1\n}</pre>' in html
    assert client.get(reverse("admin:flinks_sessions_paymentsession_add")).status_code == 403


# --- the action: hidden, refused, confirmed, summarised ------------------------------------------------------


def test_the_actions_follow_the_permissions(sandbox: Any, operator: User, viewer: User) -> None:
    make_session(sandbox)
    assert {"cancel_selected_sessions", "sync_selected_sessions"} <= action_choices(
        client_for(operator).get(reverse(CHANGELIST))
    )
    hidden = action_choices(client_for(viewer).get(reverse(CHANGELIST)))
    assert "cancel_selected_sessions" not in hidden
    assert "sync_selected_sessions" not in hidden


def test_posting_the_action_without_permission_is_refused(
    sandbox: Any, viewer: User, atomic_requests: bool
) -> None:
    session = make_session(sandbox)
    response = client_for(viewer).post(
        reverse(CHANGELIST),
        {"action": "cancel_selected_sessions", "_selected_action": [session.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert cancel_calls(sandbox) == 0
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert session.cancel_requested_at is None


def test_cancel_action_asks_then_cancels_and_summarises(
    sandbox: Any, operator: User, atomic_requests: bool, django_capture_on_commit_callbacks: Any
) -> None:
    first, second = make_sessions(sandbox, 2, reference="CANCEL-ME")
    done = make_session(sandbox, reference="DONE-1", status=Status.COMPLETED)
    client = client_for(operator)
    selected = [first.pk, second.pk, done.pk]

    confirm = client.post(
        reverse(CHANGELIST), {"action": "cancel_selected_sessions", "_selected_action": selected}
    )
    assert confirm.status_code == 200
    assert (
        confirm.templates[0].name == "admin/flinks_sessions/paymentsession/cancel_selected_confirmation.html"
    )
    html = confirm.content.decode()
    assert str(first.session_id) in html
    assert str(second.session_id) in html
    assert [s.pk for s in confirm.context["skipped"]] == [done.pk]
    assert 'name="post" value="yes"' in html
    assert cancel_calls(sandbox) == 0  # asking changes nothing

    with signal_log() as signals, django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse(CHANGELIST),
            {
                "action": "cancel_selected_sessions",
                "_selected_action": selected,
                "post": "yes",
                "reason": "fraud",
            },
        )
    assert response.status_code == 302
    assert messages_of(response) == ["2 sessions were cancelled at Flinks. 1 had already ended."]
    assert cancel_calls(sandbox) == 2
    assert signals.cancelled == {first.pk: 1, second.pk: 1}
    for session in (first, second):
        session.refresh_from_db()
        assert session.status == Status.CANCELLED
        event = SessionEvent.objects.get(session=session, kind=SessionEvent.Kind.TRANSITION)
        assert (event.source, event.actor, event.reason) == ("admin", operator, "fraud")


def test_cancel_action_reports_not_found_and_the_first_failure(
    sandbox: Any, operator: User, atomic_requests: bool
) -> None:
    good = make_session(sandbox, reference="GOOD")
    ghost = make_session(sandbox, reference="GHOST", remote=False)
    broken = make_session(sandbox, reference="BROKEN")
    sandbox.faults.paths = [f"/{broken.session_id}/cancel"]
    sandbox.faults.error_rates = {503: 1.0}

    response = client_for(operator).post(
        reverse(CHANGELIST),
        {
            "action": "cancel_selected_sessions",
            "_selected_action": [good.pk, ghost.pk, broken.pk],
            "post": "yes",
        },
    )
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "warning"
    text = str(message)
    assert text.startswith(
        "1 session was cancelled at Flinks. 1 is unknown to Flinks. 1 failed and will be retried (first error: "
    )
    assert str(broken.session_id) in text
    assert "503" in text
    broken.refresh_from_db()
    assert (broken.status, broken.attempt_count) == (Status.INITIATED, 1)


def test_sync_action(sandbox: Any, operator: User, viewer: User) -> None:
    session = make_session(sandbox)
    sandbox.state.complete(str(session.session_id))
    payload = {"action": "sync_selected_sessions", "_selected_action": [session.pk]}

    client_for(viewer).post(reverse(CHANGELIST), payload)
    assert sandbox.count(path_suffix="/status") == 0

    response = client_for(operator).post(reverse(CHANGELIST), payload)
    assert messages_of(response) == ["1 session changed status at Flinks."]
    session.refresh_from_db()
    assert session.status == Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_cancel_action_in_parallel_under_atomic_requests(
    sandbox: Any, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a test transaction the action cancels in a bounded pool of threads, each with its own connection."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    sessions = make_sessions(sandbox, 20)
    with signal_log() as signals:
        response = client_for(operator).post(
            reverse(CHANGELIST),
            {
                "action": "cancel_selected_sessions",
                "_selected_action": [s.pk for s in sessions],
                "post": "yes",
            },
        )
    assert messages_of(response) == ["20 sessions were cancelled at Flinks."]
    assert cancel_calls(sandbox) == 20
    assert sum(signals.cancelled.values()) == 20


# --- the change page's Cancel button -------------------------------------------------------------------------


def test_cancel_button_only_for_cancellable_sessions_and_permitted_users(
    sandbox: Any, operator: User, viewer: User
) -> None:
    open_session = make_session(sandbox, reference="OPEN")
    ended = make_session(sandbox, reference="ENDED", status=Status.EXPIRED)
    gone = make_session(sandbox, reference="GONE", not_found_at=timezone.now())

    page = client_for(operator).get(change_url(open_session)).content.decode()
    assert cancel_url(open_session) in page
    assert "Cancel at Flinks" in page
    for session in (ended, gone):
        assert cancel_url(session) not in client_for(operator).get(change_url(session)).content.decode()
    assert cancel_url(open_session) not in client_for(viewer).get(change_url(open_session)).content.decode()


def test_cancel_button_confirms_then_cancels(
    sandbox: Any, operator: User, atomic_requests: bool, django_capture_on_commit_callbacks: Any
) -> None:
    session = make_session(sandbox)
    client = client_for(operator)

    confirm = client.get(cancel_url(session))
    assert confirm.status_code == 200
    assert str(session.session_id) in confirm.content.decode()
    assert cancel_calls(sandbox) == 0

    with signal_log() as signals, django_capture_on_commit_callbacks(execute=True):
        response = client.post(cancel_url(session), {"reason": "customer called"})
    assert response.status_code == 302
    assert response["Location"] == change_url(session)
    assert messages_of(response) == ["The session was cancelled at Flinks."]
    assert signals.cancelled == {session.pk: 1}
    session.refresh_from_db()
    assert (session.status, session.cancel_source, session.cancel_reason) == (
        Status.CANCELLED,
        "admin",
        "customer called",
    )
    assert SessionEvent.objects.get(session=session, kind=SessionEvent.Kind.TRANSITION).actor == operator

    again = client.post(cancel_url(session))  # a second click, or a second operator
    assert messages_of(again)[-1] == "The session had already ended: Cancelled."
    assert cancel_calls(sandbox) == 1

    redirected = client.get(cancel_url(session))
    assert redirected.status_code == 302
    assert "cannot be cancelled" in messages_of(redirected)[-1]


def test_cancel_button_reports_a_failure(sandbox: Any, operator: User, atomic_requests: bool) -> None:
    session = make_session(sandbox)
    sandbox.faults.error_rates = {503: 1.0}
    response = client_for(operator).post(cancel_url(session))
    [message] = messages_of(response)
    assert message.startswith("The cancel failed: ")
    assert "retried" in message
    session.refresh_from_db()
    assert session.status == Status.INITIATED
    assert session.last_error


def test_cancel_url_without_permission_is_403(sandbox: Any, viewer: User, atomic_requests: bool) -> None:
    session = make_session(sandbox)
    client = client_for(viewer)
    assert client.get(cancel_url(session)).status_code == 403
    assert client.post(cancel_url(session)).status_code == 403
    assert cancel_calls(sandbox) == 0
    session.refresh_from_db()
    assert session.status == Status.INITIATED


def test_cancel_url_for_a_missing_session_is_404(operator: User) -> None:
    client = client_for(operator)
    assert (
        client.get(reverse("admin:flinks_sessions_paymentsession_cancel", args=[987654])).status_code == 404
    )
    assert (
        client.post(reverse("admin:flinks_sessions_paymentsession_cancel", args=["nope"])).status_code == 404
    )


# --- the audit trail inline ----------------------------------------------------------------------------------


def test_audit_trail_inline_is_read_only(
    sandbox: Any, operator: User, django_capture_on_commit_callbacks: Any
) -> None:
    session = make_session(sandbox)
    client = client_for(operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(cancel_url(session), {"reason": "duplicate"})

    response = client.get(change_url(session))
    [inline] = response.context["inline_admin_formsets"]
    assert inline.opts.model is SessionEvent
    assert (inline.has_add_permission, inline.has_change_permission, inline.has_delete_permission) == (
        False,
        False,
        False,
    )
    assert inline.has_view_permission
    html = response.content.decode()
    assert "Audit trail" in html
    assert "Cancel attempted" in html
    assert "Status changed" in html
    assert "duplicate" in html
    assert len(inline.formset.forms) == SessionEvent.objects.filter(session=session).count() == 2

    # The record is read-only: a forged Save is refused and changes nothing, audit lines included.
    data = {
        "metadata": '{"note": "called the shopper"}',
        "events-TOTAL_FORMS": "2",
        "events-INITIAL_FORMS": "2",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "0",
        "status": "initiated",
        "amount": "1.00",
    }
    data.update(
        {f"events-{n}-id": str(event.pk) for n, event in enumerate(SessionEvent.objects.order_by("pk"))}
    )
    saved = client.post(change_url(session), data)
    assert saved.status_code == 403
    session.refresh_from_db()
    assert session.metadata == {}
    assert (session.status, str(session.amount)) == (Status.CANCELLED, "10.00")
    assert SessionEvent.objects.filter(session=session).count() == 2


def test_events_are_listed_oldest_first_with_their_actor(sandbox: Any, operator: User) -> None:
    session = make_session(sandbox, age=timedelta(minutes=5))
    SessionEvent.objects.create(
        session=session, kind=SessionEvent.Kind.CREATED, to_status="initiated", source="api"
    )
    SessionEvent.objects.create(
        session=session, kind=SessionEvent.Kind.CANCEL_ATTEMPT, source="admin", actor=operator, reason="late"
    )
    response = client_for(operator).get(change_url(session))
    [inline] = response.context["inline_admin_formsets"]
    kinds = [form.instance.kind for form in inline.formset.forms]
    assert kinds == ["created", "cancel_attempt"]
    assert "operator" in response.content.decode()


@pytest.mark.parametrize("route", ["button", "action"])
def test_a_reason_typed_with_a_nul_is_stored_without_it(
    sandbox: Any, operator: User, django_capture_on_commit_callbacks: Any, route: str
) -> None:
    """PostgreSQL holds no NUL in a text column: the claim's write failed, a 500 (the button) or a failure
    reported for every session (the action), and Flinks was never asked."""
    session = make_session(sandbox)
    client = client_for(operator)
    reason = "duplicate\x00order"
    with django_capture_on_commit_callbacks(execute=True):
        if route == "button":
            response = client.post(cancel_url(session), {"reason": reason})
        else:
            response = client.post(
                reverse(CHANGELIST),
                {
                    "action": "cancel_selected_sessions",
                    "_selected_action": [session.pk],
                    "post": "yes",
                    "reason": reason,
                },
            )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == (Status.CANCELLED, "duplicateorder")
    assert cancel_calls(sandbox) == 1


@pytest.mark.parametrize(
    ("changelist", "parameter"),
    [(CHANGELIST, "account"), ("admin:flinks_sessions_webhookdelivery_changelist", "event_type")],
)
def test_a_filter_value_holding_a_nul_lists_nothing(
    admin_client: Client, changelist: str, parameter: str
) -> None:
    """A hand-edited URL (``?account=%00``): PostgreSQL refuses a NUL even in a query, which was a 500."""
    new_session(account="default")
    response = admin_client.get(reverse(changelist), {parameter: "\x00"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
