"""Log records an operator can filter on: the documented keys on every record about a session, and no secret."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from flinks_sessions.client import get_client
from flinks_sessions.log_context import KEYS, WEBHOOK_KEYS
from flinks_sessions.services import CancelOutcome, cancel_session, start_session
from flinks_sessions.testing import running_sandbox, signed_webhook
from tests.conftest import flinks_settings_for
from tests.factories import PAYOR

pytestmark = pytest.mark.django_db


class Everything(logging.Handler):
    """Keeps every record of every logger, whatever the configured levels."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    handler = Everything()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "flinks_sessions", "urllib3")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_the_record_of_a_cancel_carries_the_documented_keys(
    sandbox: Any, records: list[logging.LogRecord]
) -> None:
    session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    assert cancel_session(session, source="admin").outcome is CancelOutcome.CANCELLED

    [cancel] = [record for record in records if record.getMessage().startswith("Cancel of Flinks session")]
    assert {key: getattr(cancel, key) for key in KEYS} == {
        "session_id": str(session.session_id),
        "reference_id": "Happy1",
        "account": "default",
        "source": "admin",
        "outcome": "cancelled",
    }
    [transition] = [record for record in records if "-> cancelled" in record.getMessage()]
    assert (transition.session_id, transition.source, transition.outcome) == (
        str(session.session_id),
        "admin",
        "cancelled",
    )


def test_every_record_about_a_session_carries_every_key(
    sandbox: Any, records: list[logging.LogRecord], client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    """A cancel that fails, then succeeds, and a webhook: whoever wrote a record about the session."""
    session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
    other = start_session(amount="10.00", reference_id="Happy2", payor=PAYOR)
    sandbox.faults.paths = ["/cancel"]
    sandbox.faults.error_rates = {503: 1.0}
    assert cancel_session(session, source="command").outcome is CancelOutcome.FAILED
    sandbox.faults.error_rates = {}
    assert cancel_session(session, source="command").outcome is CancelOutcome.CANCELLED
    webhook = signed_webhook(sessionId=str(other.session_id), status="Completed", statusDetails="EFT0301")
    with django_capture_on_commit_callbacks(execute=True):
        webhook.post(client)

    # The app's records; the sandbox is Flinks' stand-in, not the app.
    ours = [
        record
        for record in records
        if record.name.startswith("flinks_sessions.")
        and not record.name.startswith("flinks_sessions.sandbox")
    ]
    about_sessions = [
        record
        for record in ours
        if str(session.session_id) in record.getMessage() or str(other.session_id) in record.getMessage()
    ]
    assert len(about_sessions) >= 6
    for record in about_sessions:
        keys = WEBHOOK_KEYS if record.name == "flinks_sessions.webhooks" else KEYS
        missing = [key for key in keys if not hasattr(record, key)]
        assert missing == [], record.getMessage()
    [failure] = [r for r in about_sessions if r.levelno == logging.WARNING and r.name.endswith("services")]
    assert (failure.outcome, failure.source, failure.reference_id) == ("failed", "command", "Happy1")
    [delivery] = [r for r in about_sessions if r.name == "flinks_sessions.webhooks"]
    assert (delivery.outcome, delivery.session_id, delivery.reference_id) == (
        "applied",
        str(other.session_id),
        "Happy2",
    )
    assert delivery.delivery_id


CLIENT_SECRET = "client-secret-7f3a9c"
API_KEY = "api-key-51d2e8"
WEBHOOK_SECRET = "webhook-secret-c0ffee"


def test_no_secret_or_token_ever_reaches_a_log_record(
    settings: Any, records: list[logging.LogRecord], client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    """Create, cancel, a 401 answered by a new token, a webhook: every record at DEBUG, every logger."""
    with running_sandbox(
        client_secret=CLIENT_SECRET, api_key=API_KEY, webhook_secret=WEBHOOK_SECRET
    ) as flinks:
        account = {"CLIENT_SECRET": CLIENT_SECRET, "API_KEY": API_KEY}
        value = flinks_settings_for(flinks.url, WEBHOOK_SECRETS=[WEBHOOK_SECRET])
        value["ACCOUNTS"]["default"].update(account)
        settings.FLINKS_SESSIONS = value
        tokens: set[str] = set()

        session = start_session(amount="100.00", reference_id="Happy1", payor=PAYOR)
        other = start_session(amount="10.00", reference_id="Happy2", payor=PAYOR)
        tokens |= set(flinks.state._tokens)
        flinks.state.revoke_tokens()  # the next call is answered 401, and the client fetches a new token
        assert get_client().get_status(str(other.session_id)).raw_status == "Initiated"
        assert cancel_session(session, source="admin").outcome is CancelOutcome.CANCELLED
        tokens |= set(flinks.state._tokens)
        webhook = signed_webhook(sessionId=str(other.session_id), status="Completed", statusDetails="EFT0301")
        with django_capture_on_commit_callbacks(execute=True):
            assert webhook.post(client).status_code == 200
        assert flinks.count(path_suffix="/status") >= 1
        assert get_client().authorize_count >= 2

    assert len(tokens) >= 3
    secrets = [CLIENT_SECRET, API_KEY, WEBHOOK_SECRET, *tokens]
    assert records
    for record in records:
        texts = [record.getMessage(), repr(record.args), *(repr(value) for value in vars(record).values())]
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        leaked = [secret for secret in secrets if any(secret in text for text in texts)]
        assert leaked == [], record.getMessage()
