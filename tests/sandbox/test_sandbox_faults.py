"""Fault injection: what a client's retries, timeouts and connection handling are tested against."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from flinks_sessions.sandbox import FaultSettings, SandboxServer
from flinks_sessions.testing import SandboxFactory

from . import bearer, control_header, create, http, session_body, token


def _status_calls(sandbox: SandboxServer, count: int, session: tuple[str, str] | None = None) -> list[int]:
    session_id, access = session or create(sandbox.url)
    client = http()
    url = f"{sandbox.url}/api/v2/sessions/{session_id}/status"
    return [client.get(url, headers=bearer(access)).status_code for _ in range(count)]


def test_latency_is_added_to_api_calls_only(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url)
    flinks_sandbox.faults.latency = 0.2
    client = http()
    started = time.monotonic()
    client.get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/status", headers=bearer(access))
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    client.get(f"{flinks_sandbox.url}/_sandbox/requests", headers=control_header(flinks_sandbox))
    client.get(f"{flinks_sandbox.url}/app/?sessionId={session_id}")
    assert time.monotonic() - started < 0.2


def test_error_rate_is_roughly_honoured_and_repeatable(flinks_sandbox: SandboxServer) -> None:
    flinks_sandbox.faults.replace(FaultSettings(error_rates={503: 0.3}, paths=["/status"], seed=7))
    first = _status_calls(flinks_sandbox, 200)
    assert 40 <= first.count(503) <= 80
    assert set(first) == {200, 503}
    flinks_sandbox.faults.reseed(7)
    assert _status_calls(flinks_sandbox, 200) == first


def test_injected_errors_are_problem_details(flinks_sandbox: SandboxServer) -> None:
    flinks_sandbox.faults.fail_next = [502]
    response = http().post(f"{flinks_sandbox.url}/api/v1/authorize")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 502
    assert flinks_sandbox.request_log[-1]["fault"] == "error"


def test_fail_next_queue_then_normal_service(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url)
    flinks_sandbox.faults.fail_next_calls(503, 503)
    assert _status_calls(flinks_sandbox, 3, (session_id, access)) == [503, 503, 200]
    flinks_sandbox.faults.fail_next = [401]
    url = f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel"
    revoked = http().post(url, headers=bearer(access))
    assert revoked.status_code == 401
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")
    # The token really is revoked: only a fresh one gets through.
    assert http().post(url, headers=bearer(access)).status_code == 401
    assert http().post(url, headers=bearer(token(flinks_sandbox.url))).status_code == 200
    assert flinks_sandbox.faults.fail_next == []


def test_paths_limit_which_calls_are_faulted(flinks_sandbox: SandboxServer) -> None:
    flinks_sandbox.faults.replace(FaultSettings(fail_next=[503], paths=["/cancel"]))
    session_id, access = create(flinks_sandbox.url)  # authorize and create are not affected
    url = f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel"
    assert http().post(url, headers=bearer(access)).status_code == 503
    assert http().post(url, headers=bearer(access)).status_code == 200


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_header(flinks_sandbox: SandboxServer, status: int) -> None:
    flinks_sandbox.faults.update(retry_after=2, fail_next=[status, 500])
    first = http().post(f"{flinks_sandbox.url}/api/v1/authorize")
    assert (first.status_code, first.headers["Retry-After"]) == (status, "2")
    second = http().post(f"{flinks_sandbox.url}/api/v1/authorize")
    assert second.status_code == 500
    assert "Retry-After" not in second.headers


def test_timeout_stalls_the_answer(flinks_sandbox: SandboxServer) -> None:
    flinks_sandbox.faults.update(timeout_seconds=1.0, fail_next=["timeout"])
    with pytest.raises(requests.ReadTimeout):
        http().post(f"{flinks_sandbox.url}/api/v1/authorize", timeout=0.3)
    assert token(flinks_sandbox.url)  # the next call is served normally


def test_timeout_rate(flinks_sandbox: SandboxServer) -> None:
    flinks_sandbox.faults.update(timeout_rate=1.0, timeout_seconds=0.3)
    started = time.monotonic()
    assert token(flinks_sandbox.url)
    assert time.monotonic() - started >= 0.3


def test_dropped_connection_raises_connection_error(flinks_sandbox: SandboxServer) -> None:
    client = http()
    assert token(flinks_sandbox.url, client)  # a pooled keep-alive connection now exists
    flinks_sandbox.faults.fail_next = ["drop"]
    with pytest.raises(requests.ConnectionError):
        client.post(f"{flinks_sandbox.url}/api/v1/authorize", data={"grant_type": "client_credentials"})
    assert flinks_sandbox.request_log[-1]["status"] is None
    assert flinks_sandbox.request_log[-1]["fault"] == "drop"
    flinks_sandbox.faults.drop_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        http().post(f"{flinks_sandbox.url}/api/v1/authorize")
    flinks_sandbox.faults.drop_rate = 0.0
    assert token(flinks_sandbox.url, client)


def test_control_routes_and_page_are_never_faulted(flinks_sandbox: SandboxServer) -> None:
    session_id, _ = create(flinks_sandbox.url)
    flinks_sandbox.faults.update(drop_rate=1.0)
    client = http()
    assert (
        client.get(
            f"{flinks_sandbox.url}/_sandbox/faults", headers=control_header(flinks_sandbox)
        ).status_code
        == 200
    )
    assert client.get(f"{flinks_sandbox.url}/app/?sessionId={session_id}").status_code == 200
    assert client.post(f"{flinks_sandbox.url}/app/api/{session_id}/start").status_code == 200
    control = flinks_sandbox.control()
    control.clear_faults()
    assert token(flinks_sandbox.url)


def test_faults_configured_over_http(flinks_sandbox: SandboxServer) -> None:
    control = flinks_sandbox.control()
    settings = control.set_faults(error_rates={503: 0.25}, latency=0.01, seed=3)
    assert settings["error_rates"] == {"503": 0.25}
    assert flinks_sandbox.faults.error_rates == {503: 0.25}
    assert control.update_faults(latency=0)["error_rates"] == {"503": 0.25}
    control.fail_next(503, "drop")
    assert flinks_sandbox.faults.fail_next == [503, "drop"]
    assert control.set_faults()["error_rates"] == {}
    response = http().post(
        f"{flinks_sandbox.url}/_sandbox/faults", json={"drop_rate": 2}, headers=control_header(flinks_sandbox)
    )
    assert response.status_code == 400
    assert "between 0 and 1" in response.json()["error"]
    response = http().post(
        f"{flinks_sandbox.url}/_sandbox/faults", json={"bogus": 1}, headers=control_header(flinks_sandbox)
    )
    assert response.status_code == 400


def test_invalid_fault_settings_are_refused_in_process(flinks_sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        flinks_sandbox.faults.drop_rate = 1.5
    with pytest.raises(ValueError, match="HTTP error status"):
        flinks_sandbox.faults.fail_next = [200]
    with pytest.raises(ValueError, match="add up to at most 1"):
        flinks_sandbox.faults.error_rates = {503: 0.6, 502: 0.6}


def test_32_concurrent_keep_alive_clients(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(faults=FaultSettings(latency=0.02))

    def client_run(index: int) -> list[int]:
        client = http()
        statuses = []
        for _ in range(3):
            access = token(sandbox.url, client)
            created = client.post(
                f"{sandbox.url}/api/v2/sessions",
                json=session_body(referenceId=f"order-{index}"),
                headers=bearer(access),
            )
            statuses.append(created.status_code)
            session_id = created.json()["sessionId"]
            url = f"{sandbox.url}/api/v2/sessions/{session_id}"
            statuses.append(client.get(f"{url}/status", headers=bearer(access)).status_code)
            statuses.append(client.post(f"{url}/cancel", headers=bearer(access)).status_code)
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(client_run, range(32)))
    elapsed = time.monotonic() - started
    assert all(statuses == [201, 200, 200] * 3 for statuses in results)
    assert sandbox.count(method="POST", path_suffix="/cancel", status=200) == 96
    # 12 sequential calls of 20 ms each per client: served in parallel, not one client after another.
    assert elapsed < 32 * 12 * 0.02


def test_concurrent_cancels_of_one_session_succeed_once(flinks_sandbox: SandboxServer) -> None:
    session_id, _ = create(flinks_sandbox.url)
    tokens = [token(flinks_sandbox.url) for _ in range(16)]
    url = f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel"
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda value: http().post(url, headers=bearer(value)).status_code, tokens))
    assert sorted(statuses) == [200] + [400] * 15


def test_unknown_session_ids_stay_404_under_faults(flinks_sandbox: SandboxServer) -> None:
    flinks_sandbox.faults.update(paths=["/authorize"], error_rates={503: 1.0})
    response = http().get(f"{flinks_sandbox.url}/api/v2/sessions/{uuid.uuid4()}/status")
    assert response.status_code == 401
