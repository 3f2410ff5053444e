"""The control API is a door to signed webhooks: loopback peers only, and only with the token printed at start."""

from __future__ import annotations

import socket
import uuid

import pytest

from flinks_sessions.sandbox import SandboxControl, SandboxServer
from flinks_sessions.sandbox.access import is_loopback
from flinks_sessions.sandbox.control import SandboxControlError
from flinks_sessions.testing import running_sandbox
from tests.extras import missing

from . import control_header, create, http


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (what another host would reach), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if is_loopback(address) or address == "0.0.0.0" else address  # noqa: S104


@pytest.mark.parametrize("header", [None, "", "wrong", "x" * 200], ids=["missing", "empty", "wrong", "long"])
def test_control_routes_need_the_token(flinks_sandbox: SandboxServer, header: str | None) -> None:
    session_id, _ = create(flinks_sandbox.url)
    headers = {} if header is None else {"X-Sandbox-Token": header}
    client = http()
    for method, path in [
        ("GET", "/_sandbox/health"),
        ("GET", "/_sandbox/requests"),
        ("POST", f"/_sandbox/sessions/{session_id}/complete"),
        ("POST", "/_sandbox/config"),
        ("POST", "/_sandbox/reset"),
    ]:
        response = client.request(method, f"{flinks_sandbox.url}{path}", headers=headers, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert "X-Sandbox-Token" in response.json()["error"]
    assert flinks_sandbox.state.get(session_id).status == "Initiated"  # nothing was completed
    assert flinks_sandbox.control().session(session_id)["status"] == "Initiated"


def test_each_sandbox_has_its_own_token(flinks_sandbox_factory: object) -> None:
    first = flinks_sandbox_factory()  # type: ignore[operator]
    second = flinks_sandbox_factory()  # type: ignore[operator]
    assert first.control_token != second.control_token
    assert len(first.control_token) >= 24
    with pytest.raises(SandboxControlError, match="401"):
        SandboxControl(first.url, token=second.control_token).faults()
    assert first.control().faults()["fail_next"] == []


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLINKS_SANDBOX_TOKEN", "shared-by-a-script")
    with running_sandbox() as sandbox:
        assert sandbox.control_token == "shared-by-a-script"
        assert SandboxControl(sandbox.url).health()  # the client reads the same variable


def test_api_and_hosted_page_need_no_control_token(flinks_sandbox: SandboxServer) -> None:
    session_id, _ = create(flinks_sandbox.url)
    assert http().get(flinks_sandbox.hosted_page_url(session_id)).status_code == 200


def test_non_loopback_peers_are_refused_even_with_the_token() -> None:
    address = _non_loopback_address()
    if address is None:
        missing("lan", "this machine has no non-loopback IPv4 address")
    with SandboxServer("0.0.0.0", 0) as sandbox:  # noqa: S104 - what a container setup would do
        outside = f"http://{address}:{sandbox.port}"
        refused = http().get(f"{outside}/_sandbox/requests", headers=control_header(sandbox), timeout=5)
        assert refused.status_code == 403
        assert "loopback" in refused.json()["error"]
        session_id = str(uuid.uuid4())
        forged = http().post(
            f"{outside}/_sandbox/sessions/{session_id}/complete", headers=control_header(sandbox), timeout=5
        )
        assert forged.status_code == 403
        # The API itself still answers from there (a site in another container talks to it).
        assert http().post(f"{outside}/api/v1/authorize", timeout=5).status_code in (400, 401)
        local = f"http://127.0.0.1:{sandbox.port}"
        assert SandboxControl(local, token=sandbox.control_token).health()


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.2", False),
        ("::ffff:192.0.2.2", False),
        ("fd00::2", False),
        ("", False),
        ("localhost", False),  # a name is never trusted: the socket gives addresses
    ],
)
def test_is_loopback(peer: str, loopback: bool) -> None:
    assert is_loopback(peer) is loopback


def test_control_client_repr_shows_no_token(flinks_sandbox: SandboxServer) -> None:
    control = flinks_sandbox.control()
    assert flinks_sandbox.control_token not in repr(control)
    assert flinks_sandbox.control_token not in repr(flinks_sandbox)
