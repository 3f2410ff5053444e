"""FlinksClient against the sandbox over real HTTP: tokens, retries, timeouts, spellings and error shapes."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from flinks_sessions.client import FlinksClient, get_client
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import (
    FlinksAlreadyTerminal,
    FlinksAuthError,
    FlinksBadRequest,
    FlinksError,
    FlinksNotFound,
    FlinksUnavailable,
)
from flinks_sessions.services.start import build_session_body
from flinks_sessions.status import Status
from tests.conftest import flinks_settings_for
from tests.factories import PAYOR


def body(product: str = "eft", reference: str = "Happy1") -> dict[str, Any]:
    return build_session_body(product=product, amount=Decimal("100.00"), reference_id=reference, payor=PAYOR)


def authorizations(sandbox: Any) -> int:
    return sandbox.count(method="POST", path_suffix="/api/v1/authorize")


@pytest.fixture
def client(sandbox: Any) -> FlinksClient:
    return get_client()


def test_a_session_goes_through_its_life(client: FlinksClient, sandbox: Any) -> None:
    created = client.create_session(body())
    uuid.UUID(created.session_id)
    assert created.reference_id == "Happy1"
    status = client.get_status(created.session_id)
    assert status.status is Status.INITIATED
    assert status.status_details == "EFT0101"
    assert status.amount == Decimal("100")
    details = client.get_details(created.session_id)
    assert details["sessionId"] == created.session_id
    cancelled = client.cancel_session(created.session_id)
    assert cancelled.status is Status.CANCELLED
    assert cancelled.status_details == "EFT0501"


@pytest.mark.parametrize(
    ("product", "spelling"), [("eft", "Cancelled"), ("geft", "Canceled"), ("etransfer", "Cancelled")]
)
def test_both_cancel_spellings_normalise(client: FlinksClient, product: str, spelling: str) -> None:
    created = client.create_session(body(product))
    cancelled = client.cancel_session(created.session_id)
    assert cancelled.raw_status == spelling
    assert cancelled.status is Status.CANCELLED


def test_sixteen_threads_share_one_token(client: FlinksClient, sandbox: Any) -> None:
    session_id = client.create_session(body()).session_id
    before = authorizations(sandbox)
    barrier = threading.Barrier(16)

    def calls(_: int) -> int:
        barrier.wait()
        return sum(client.get_status(session_id).status is Status.INITIATED for _ in range(1000 // 16 + 1))

    with ThreadPoolExecutor(16) as pool:
        done = sum(pool.map(calls, range(16)))
    assert done >= 1000
    assert authorizations(sandbox) - before == 1


def test_each_creation_takes_a_fresh_token(client: FlinksClient, sandbox: Any) -> None:
    # One page says a token may start only one session; the sandbox enforces it.
    for _ in range(3):
        client.create_session(body())
    assert authorizations(sandbox) == 3


def test_token_is_renewed_before_it_expires(sandbox: Any) -> None:
    sandbox.config.token_ttl = 1
    client = get_client()
    session_id = client.create_session(body()).session_id
    client.get_status(session_id)
    client.get_status(session_id)
    first = authorizations(sandbox)
    threading.Event().wait(1.0)  # past 90% of the one-second lifetime
    client.get_status(session_id)
    assert authorizations(sandbox) == first + 1


def test_a_refused_token_is_renewed_and_the_call_retried_once(client: FlinksClient, sandbox: Any) -> None:
    session_id = client.create_session(body()).session_id
    client.get_status(session_id)
    before = authorizations(sandbox)
    sandbox.state.revoke_tokens()
    assert client.get_status(session_id).status is Status.INITIATED
    assert authorizations(sandbox) == before + 1


def test_a_second_401_is_an_auth_error(client: FlinksClient, sandbox: Any) -> None:
    session_id = client.create_session(body()).session_id
    sandbox.faults.fail_next_calls(401, 401)
    with pytest.raises(FlinksAuthError):
        client.get_status(session_id)


def test_wrong_credentials(sandbox: Any, settings: Any) -> None:
    value = flinks_settings_for(sandbox.url)
    value["ACCOUNTS"]["default"]["CLIENT_SECRET"] = "wrong-secret-value"
    settings.FLINKS_SESSIONS = value
    with pytest.raises(FlinksAuthError) as info:
        get_client().get_status(str(uuid.uuid4()))
    assert info.value.status_code == 401
    assert "wrong-secret-value" not in str(info.value)


def test_backoff_through_503s(client: FlinksClient, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    session_id = client.create_session(body()).session_id
    client.get_status(session_id)
    sleeps: list[float] = []
    monkeypatch.setattr("flinks_sessions.client.time.sleep", sleeps.append)
    sandbox.faults.fail_next_calls(503, 502, 504)
    assert client.get_status(session_id).status is Status.INITIATED
    policy = get_settings().retry
    assert len(sleeps) == 3
    # Exponential with jitter: each delay within [ceiling/2, ceiling] of its doubling ceiling.
    for attempt, delay in enumerate(sleeps, start=1):
        ceiling = min(policy.backoff_max, policy.backoff * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_retry_after_is_honoured(client: FlinksClient, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    session_id = client.create_session(body()).session_id
    sleeps: list[float] = []
    monkeypatch.setattr("flinks_sessions.client.time.sleep", sleeps.append)
    sandbox.faults.retry_after = 2
    sandbox.faults.fail_next_calls(429)
    assert client.get_status(session_id).status is Status.INITIATED
    assert sleeps == [2.0]


def test_retries_run_out(client: FlinksClient, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    session_id = client.create_session(body()).session_id
    client.get_status(session_id)  # the shared token is cached, so only /status calls meet the faults
    monkeypatch.setattr("flinks_sessions.client.time.sleep", lambda _: None)
    sandbox.faults.fail_next_calls(*[503] * 10)
    before = sandbox.count(path_suffix="/status")
    with pytest.raises(FlinksUnavailable) as info:
        client.get_status(session_id)
    assert info.value.status_code == 503
    assert not info.value.ambiguous
    assert sandbox.count(path_suffix="/status") - before == get_settings().retry.attempts


def test_read_timeout_is_retried(sandbox: Any, settings: Any) -> None:
    settings.FLINKS_SESSIONS = flinks_settings_for(sandbox.url, READ_TIMEOUT=0.3)
    client = get_client()
    session_id = client.create_session(body()).session_id
    sandbox.faults.timeout_seconds = 1.0
    sandbox.faults.fail_next_calls("timeout")
    assert client.get_status(session_id).status is Status.INITIATED
    sandbox.faults.fail_next_calls(*["timeout"] * 4)
    with pytest.raises(FlinksUnavailable, match="ReadTimeout"):
        client.get_status(session_id)


def test_dropped_connection_is_retried(client: FlinksClient, sandbox: Any) -> None:
    session_id = client.create_session(body()).session_id
    sandbox.faults.fail_next_calls("drop")
    assert client.cancel_session(session_id).status is Status.CANCELLED
    log = sandbox.request_log
    [dropped] = [at for at, entry in enumerate(log) if entry["fault"] == "drop"]
    # The same call, sent again:
    again = [entry for entry in log[dropped + 1 :] if entry["path"] == log[dropped]["path"]]
    assert [(entry["fault"], entry["status"]) for entry in again] == [(None, 200)]


def test_creation_is_never_retried_blindly(client: FlinksClient, sandbox: Any) -> None:
    sandbox.faults.paths = ["/api/v2/sessions"]  # the authorize passes, the creation fails
    sandbox.faults.fail_next_calls(503)
    with pytest.raises(FlinksUnavailable) as info:
        client.create_session(body())
    assert info.value.ambiguous
    assert sandbox.count(method="POST", path_suffix="/api/v2/sessions") == 1


def test_creation_retries_a_429(client: FlinksClient, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flinks_sessions.client.time.sleep", lambda _: None)
    sandbox.faults.paths = ["/api/v2/sessions"]
    sandbox.faults.fail_next_calls(429)
    created = client.create_session(body())
    assert created.session_id
    assert sandbox.count(method="POST", path_suffix="/api/v2/sessions") == 2


def test_not_found(client: FlinksClient) -> None:
    with pytest.raises(FlinksNotFound) as info:
        client.cancel_session(str(uuid.uuid4()))
    assert info.value.status_code == 404


def test_cancelling_twice_is_already_terminal(client: FlinksClient) -> None:
    session_id = client.create_session(body()).session_id
    client.cancel_session(session_id)
    with pytest.raises(FlinksAlreadyTerminal, match="cannot be Cancelled") as info:
        client.cancel_session(session_id)
    assert info.value.status_code == 400


@pytest.mark.parametrize("style", ["problem", "oauth"])
def test_both_error_shapes_are_parsed(client: FlinksClient, sandbox: Any, style: str) -> None:
    sandbox.config.error_style = style
    with pytest.raises(FlinksNotFound) as info:
        client.get_status(str(uuid.uuid4()))
    assert "not found" in info.value.message.lower()
    if style == "oauth":
        assert info.value.code == "not_found"


def test_invalid_body_is_a_bad_request(client: FlinksClient) -> None:
    with pytest.raises(FlinksBadRequest) as info:
        client.create_session({**body(), "currency": "USD"})
    assert info.value.status_code == 400


def test_errors_never_carry_secrets_or_tokens(client: FlinksClient, sandbox: Any) -> None:
    session_id = client.create_session(body()).session_id
    token = client.access_token()
    sandbox.faults.fail_next_calls(401, 401)
    with pytest.raises(FlinksError) as info:
        client.get_status(session_id)
    for secret in (token, "sandbox-secret"):
        assert secret not in str(info.value)
        assert secret not in repr(info.value)
    assert "sandbox-secret" not in repr(client)
