"""The ``/_sandbox/`` control API through ``SandboxControl``, and the request log it exposes."""

from __future__ import annotations

import pytest

from flinks_sessions.sandbox import SandboxControl, SandboxServer
from flinks_sessions.sandbox.control import SandboxControlError

from . import bearer, control_header, create, http, session_body, token


@pytest.fixture
def control(flinks_sandbox: SandboxServer) -> SandboxControl:
    with flinks_sandbox.control() as client:
        yield client


def test_request_log_records_api_calls_without_tokens(
    flinks_sandbox: SandboxServer, control: SandboxControl
) -> None:
    session_id, access = create(flinks_sandbox.url)
    http().post(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access))
    http().get(f"{flinks_sandbox.url}/app/?sessionId={session_id}")  # the page is not an API call
    entries = control.request_log()
    assert [(entry["method"], entry["status"], entry["authorization"]) for entry in entries] == [
        ("POST", 200, "basic"),
        ("POST", 201, "bearer"),
        ("POST", 200, "bearer"),
    ]
    assert entries[2]["path"] == f"/api/v2/sessions/{session_id}/cancel"
    assert all(isinstance(entry["at"], float) for entry in entries)
    assert access not in str(entries)
    assert control.count(method="POST", path_suffix="/cancel") == 1
    assert flinks_sandbox.count(method="POST", path_suffix="/cancel") == 1
    assert flinks_sandbox.log.count(path_contains="/sessions") == 2
    assert control.clear_requests() == 3
    assert flinks_sandbox.request_log == []


def test_sessions_are_listed_and_driven(flinks_sandbox: SandboxServer, control: SandboxControl) -> None:
    completed, _ = create(flinks_sandbox.url, "geft", referenceId="Happy2", amount=1000)
    failed, _ = create(flinks_sandbox.url)
    expired, _ = create(flinks_sandbox.url)
    started, _ = create(flinks_sandbox.url)
    assert {item["sessionId"] for item in control.sessions()} == {completed, failed, expired, started}
    done = control.complete(completed, "EFT0302")
    assert (done["status"], done["statusDetails"], done["scenario"]) == ("Completed", "EFT0302", "Happy2")
    assert done["guaranteeDetails"]["offerType"] == "Reduced"
    assert done["guaranteeDetails"]["offeredAmount"] == 500
    assert control.fail(failed)["statusDetails"] == "EFT0402"
    assert control.expire(expired)["status"] == "Expired"
    assert control.start(started)["status"] == "InProgress"
    assert control.cancel(started)["status"] == "Cancelled"
    assert control.session(started)["history"][-1]["source"] == "control"
    with pytest.raises(SandboxControlError, match="409"):
        control.complete(completed)
    with pytest.raises(SandboxControlError, match="404"):
        control.session("00000000-0000-0000-0000-000000000000")


def test_create_session_without_a_token(flinks_sandbox: SandboxServer, control: SandboxControl) -> None:
    created = control.create_session(session_body("etransfer", referenceId="Happy3"))
    assert created["product"] == "etransfer"
    assert created["language"] == "fr"
    assert flinks_sandbox.request_log == []
    with pytest.raises(SandboxControlError, match="400"):
        control.create_session({"type": "EFT"})


def test_revoking_tokens(flinks_sandbox: SandboxServer, control: SandboxControl) -> None:
    session_id, access = create(flinks_sandbox.url)
    assert control.revoke_tokens() == 1
    status = http().get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/status", headers=bearer(access))
    assert status.status_code == 401
    assert token(flinks_sandbox.url)


def test_config_changes_at_run_time(flinks_sandbox: SandboxServer, control: SandboxControl) -> None:
    view = control.set_config(token_ttl=299, expire_after=None, disabled_products={"eft"})
    assert (view["token_ttl"], view["expire_after"], view["disabled_products"]) == (299, None, ["eft"])
    assert view["client_secret_set"] is True
    assert "client_secret" not in view
    assert flinks_sandbox.config.token_ttl == 299
    assert (
        http()
        .post(
            f"{flinks_sandbox.url}/api/v1/authorize",
            auth=("sandbox-client", "sandbox-secret"),
            data={"grant_type": "client_credentials"},
        )
        .json()["expires_in"]
        == 299
    )
    with pytest.raises(SandboxControlError, match="unknown config"):
        control.set_config(nonsense=1)
    with pytest.raises(SandboxControlError, match="webhook_form"):
        control.set_config(webhook_form="X-Nope")


def test_reset_restores_the_start(flinks_sandbox: SandboxServer, control: SandboxControl) -> None:
    create(flinks_sandbox.url)
    control.set_config(token_ttl=5)
    control.fail_next(503)
    control.reset()
    assert control.sessions() == []
    assert control.request_log() == []
    assert control.faults()["fail_next"] == []
    assert control.config()["token_ttl"] == 599


def test_health_and_unknown_control_routes(flinks_sandbox: SandboxServer, control: SandboxControl) -> None:
    assert control.health()
    control.wait_until_ready(timeout=1)
    assert (
        http()
        .get(f"{flinks_sandbox.url}/_sandbox/nothing", headers=control_header(flinks_sandbox))
        .status_code
        == 404
    )
    assert (
        http()
        .put(f"{flinks_sandbox.url}/_sandbox/faults", headers=control_header(flinks_sandbox))
        .status_code
        == 405
    )
    assert (
        http()
        .post(f"{flinks_sandbox.url}/_sandbox/config", data=b"[1", headers=control_header(flinks_sandbox))
        .status_code
        == 400
    )
    assert not SandboxControl("http://127.0.0.1:9", timeout=0.5).health()
