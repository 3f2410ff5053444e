"""The Flinks Pay API as the sandbox serves it: the shapes and statuses of docs/flinks-api.md, over real HTTP."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from flinks_sessions.sandbox import SandboxServer
from flinks_sessions.testing import SandboxFactory

from . import CLIENT, bearer, create, http, session_body, token

PRODUCTS = ["eft", "geft", "etransfer"]


# -- authorize --------------------------------------------------------------------------------------


def test_authorize_with_http_basic(flinks_sandbox: SandboxServer) -> None:
    response = http().post(
        f"{flinks_sandbox.url}/api/v1/authorize", auth=CLIENT, data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 599
    uuid.UUID(body["access_token"])
    assert flinks_sandbox.request_log[-1]["authorization"] == "basic"


def test_authorize_with_form_fields(flinks_sandbox: SandboxServer) -> None:
    data = {"grant_type": "client_credentials", "Username": CLIENT[0], "Password": CLIENT[1]}
    response = http().post(f"{flinks_sandbox.url}/api/v1/authorize", data=data)
    assert response.status_code == 200
    assert response.json()["access_token"]


@pytest.mark.parametrize(
    ("auth", "data", "status", "error"),
    [
        (("sandbox-client", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (CLIENT, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (CLIENT, {}, 400, "invalid_request"),
    ],
)
def test_authorize_rejects_bad_requests(
    flinks_sandbox: SandboxServer, auth: tuple[str, str] | None, data: dict[str, str], status: int, error: str
) -> None:
    response = http().post(f"{flinks_sandbox.url}/api/v1/authorize", auth=auth, data=data)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_token_expires_after_its_ttl(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(token_ttl=0.3)
    access = token(sandbox.url)
    assert http().post(
        f"{sandbox.url}/api/v1/authorize", auth=CLIENT, data={"grant_type": "client_credentials"}
    )
    time.sleep(0.4)
    response = http().post(f"{sandbox.url}/api/v2/sessions", json=session_body(), headers=bearer(access))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_api_key_is_required_when_configured(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(api_key="k-123")
    url = f"{sandbox.url}/api/v1/authorize"
    data = {"grant_type": "client_credentials"}
    assert http().post(url, auth=CLIENT, data=data).status_code == 401
    assert http().post(url, auth=CLIENT, data=data, headers={"x-api-key": "k-123"}).status_code == 200


# -- create -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("product", PRODUCTS)
def test_create_each_product(flinks_sandbox: SandboxServer, product: str) -> None:
    client = http()
    access = token(flinks_sandbox.url, client)
    response = client.post(
        f"{flinks_sandbox.url}/api/v2/sessions",
        json=session_body(product, referenceId="order-42"),
        headers=bearer(access),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["referenceId"] == "order-42"
    assert flinks_sandbox.state.get(body["sessionId"]).product.value == product


@pytest.mark.parametrize(
    ("product", "overrides", "fragment"),
    [
        ("eft", {"type": "ACH"}, "type must be one of"),
        ("eft", {"direction": "CREDIT"}, "direction must be DEBIT"),
        ("eft", {"referenceId": "has spaces"}, "referenceId must be 1 to 36"),
        ("eft", {"referenceId": "x" * 37}, "referenceId must be 1 to 36"),
        ("geft", {"referenceId": "x" * 101}, "1 to 100"),
        ("eft", {"amount": 0}, "between 0.01 and 99999.99"),
        ("eft", {"amount": 100000}, "between 0.01 and 99999.99"),
        ("eft", {"amount": "12.345"}, "at most 2 decimal places"),
        ("eft", {"amount": "ten"}, "is not a number"),
        ("eft", {"amount": True}, "amount must be a number"),
        ("eft", {"currency": "USD"}, "currency must be CAD"),
        ("eft", {"payor": {"firstName": "John", "lastName": "Doe"}}, "payor.email is required"),
        ("eft", {"payor": {"firstName": "", "lastName": "Doe", "email": "a@b.c"}}, "payor.firstName"),
        ("etransfer", {"payor": {"firstName": "J", "lastName": "D", "email": "nope"}}, "not a valid email"),
        ("eft", {"payee": {"name": "Shop"}}, "payee is not allowed"),
        ("eft", {"options": {"guarantee": {"enable": "yes"}}}, "enable must be true or false"),
    ],
)
def test_create_rejects_invalid_bodies_with_problem_details(
    flinks_sandbox: SandboxServer, product: str, overrides: dict[str, object], fragment: str
) -> None:
    client = http()
    access = token(flinks_sandbox.url, client)
    response = client.post(
        f"{flinks_sandbox.url}/api/v2/sessions",
        json=session_body(product, **overrides),
        headers=bearer(access),
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"] == "Bad Request"
    assert fragment in problem["detail"]


def test_geft_and_etransfer_accept_a_payee(flinks_sandbox: SandboxServer) -> None:
    geft, _ = create(flinks_sandbox.url, "geft", payee={"name": "Shop"})
    etransfer, _ = create(
        flinks_sandbox.url, "etransfer", payee={"name": "Shop"}, referenceId="a reference with spaces"
    )
    assert flinks_sandbox.state.get(geft).payee == {"name": "Shop"}
    assert flinks_sandbox.state.get(etransfer).payee == {"name": "Shop"}
    assert flinks_sandbox.state.get(etransfer).reference_id == "a reference with spaces"


def test_create_rejects_malformed_json(flinks_sandbox: SandboxServer) -> None:
    client = http()
    access = token(flinks_sandbox.url, client)
    response = client.post(
        f"{flinks_sandbox.url}/api/v2/sessions",
        data=b"{not json",
        headers={**bearer(access), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_a_token_starts_only_one_session(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url)
    client = http()
    again = client.post(f"{flinks_sandbox.url}/api/v2/sessions", json=session_body(), headers=bearer(access))
    assert again.status_code == 401
    assert "already created a session" in again.json()["detail"]
    # ...but it still reads and cancels the session it created.
    status = client.get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/status", headers=bearer(access))
    assert status.status_code == 200
    cancel = client.post(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access))
    assert cancel.status_code == 200


def test_disabled_product_is_forbidden(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(disabled_products={"geft"})
    client = http()
    response = client.post(
        f"{sandbox.url}/api/v2/sessions",
        json=session_body("geft"),
        headers=bearer(token(sandbox.url, client)),
    )
    assert response.status_code == 403
    assert "not enabled" in response.json()["detail"]
    create(sandbox.url, "eft")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic abc"])
def test_bad_or_missing_token_is_401(flinks_sandbox: SandboxServer, header: str | None) -> None:
    session_id, _ = create(flinks_sandbox.url)
    headers = {"Authorization": header} if header else {}
    for method, suffix in (("GET", "status"), ("GET", "details"), ("POST", "cancel")):
        response = http().request(
            method, f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/{suffix}", headers=headers
        )
        assert response.status_code == 401, suffix
        assert response.json()["detail"] == "Valid access token required"


# -- status and details -----------------------------------------------------------------------------


def test_status_has_the_webhook_fields(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url, amount="12.50")
    response = http().get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/status", headers=bearer(access))
    assert response.json() == {
        "sessionId": session_id,
        "referenceId": "Happy1",
        "amount": 12.5,
        "status": "Initiated",
        "statusDetails": "EFT0101",
    }


def test_status_without_auth_when_configured(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(require_auth_for_status=False)
    session_id, _ = create(sandbox.url)
    assert http().get(f"{sandbox.url}/api/v2/sessions/{session_id}/status").status_code == 200
    assert http().get(f"{sandbox.url}/api/v2/sessions/{session_id}/details").status_code == 401


def test_details_of_a_geft_session(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url, "geft", referenceId="Happy2", amount=1000)
    flinks_sandbox.state.start(session_id)
    details = http().get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/details", headers=bearer(access))
    body = details.json()
    assert body["status"] == "InProgress"
    assert body["step"]["current"]
    assert body["payor"]["email"] == "john@example.com"
    assert body["payor"]["account"]["accountNumber"].startswith("*****")
    assert body["guaranteeDetails"]["requestedAmount"] == 1000
    assert body["createdAt"].endswith("Z")


def test_details_of_eft_has_no_guarantee(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url, "eft")
    body = (
        http()
        .get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/details", headers=bearer(access))
        .json()
    )
    assert "guaranteeDetails" not in body
    assert body["payor"]["account"] is None


def test_guarantee_confirm(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url, "geft")
    url = f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/guarantees/confirm"
    assert http().post(url, json={"guaranteeAccepted": "yes"}, headers=bearer(access)).status_code == 400
    response = http().post(url, json={"guaranteeAccepted": False}, headers=bearer(access))
    assert response.status_code == 200
    assert response.json()["guaranteeAccepted"] is False
    assert flinks_sandbox.state.get(session_id).guarantee == {
        "enabled": True,
        "requestedAmount": 100,
        "offeredAmount": None,
        "offerType": None,
        "guaranteeAccepted": False,
    }
    eft_id, eft_token = create(flinks_sandbox.url, "eft")
    not_geft = http().post(
        f"{flinks_sandbox.url}/api/v2/sessions/{eft_id}/guarantees/confirm",
        json={"guaranteeAccepted": True},
        headers=bearer(eft_token),
    )
    assert not_geft.status_code == 400


# -- cancel -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "spelling"), [("geft", "Canceled"), ("eft", "Cancelled"), ("etransfer", "Cancelled")]
)
def test_cancel_spells_the_status_per_product(
    flinks_sandbox: SandboxServer, product: str, spelling: str
) -> None:
    session_id, access = create(flinks_sandbox.url, product)
    client = http()
    response = client.post(
        f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access)
    )
    assert response.status_code == 200
    assert response.json() == {
        "sessionId": session_id,
        "referenceId": "Happy1",
        "status": spelling,
        "statusDetails": "EFT0501",
    }
    route = "details" if product == "etransfer" else "status"  # e-Transfer documents no /status
    status = client.get(f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/{route}", headers=bearer(access))
    assert status.json()["status"] == spelling


@pytest.mark.parametrize(("product", "oauth"), [("geft", True), ("eft", False), ("etransfer", False)])
def test_second_cancel_is_400_in_the_product_error_shape(
    flinks_sandbox: SandboxServer, product: str, oauth: bool
) -> None:
    session_id, access = create(flinks_sandbox.url, product)
    url = f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel"
    assert http().post(url, headers=bearer(access)).status_code == 200
    again = http().post(url, headers=bearer(access))
    assert again.status_code == 400
    message = f"Session {session_id} cannot be Cancelled"
    if oauth:
        assert again.json() == {"error": "invalid_request", "error_description": message}
    else:
        assert again.headers["Content-Type"].startswith("application/problem+json")
        assert again.json()["detail"] == message


def test_cancel_after_completion_is_400(flinks_sandbox: SandboxServer) -> None:
    session_id, access = create(flinks_sandbox.url)
    flinks_sandbox.state.complete(session_id)
    response = http().post(
        f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access)
    )
    assert response.status_code == 400


def test_etransfer_may_omit_status_details(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(etransfer_omit_status_details=True)
    session_id, access = create(sandbox.url, "etransfer")
    response = http().post(f"{sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access))
    assert response.json() == {"sessionId": session_id, "referenceId": "Happy1", "status": "Cancelled"}


# A fixed id for the random uuid: xdist workers must collect the same test names.
@pytest.mark.parametrize("session_id", [pytest.param(str(uuid.uuid4()), id="unknown"), "not-a-uuid", "123"])
def test_unknown_or_malformed_session_is_404(flinks_sandbox: SandboxServer, session_id: str) -> None:
    access = token(flinks_sandbox.url)
    for method, suffix in (("GET", "status"), ("GET", "details"), ("POST", "cancel")):
        response = http().request(
            method, f"{flinks_sandbox.url}/api/v2/sessions/{session_id}/{suffix}", headers=bearer(access)
        )
        assert response.status_code == 404
        assert response.json()["detail"] == "Session not found for client sandbox-client"


def test_oauth_error_style_everywhere(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(error_style="oauth")
    access = token(sandbox.url)
    response = http().post(f"{sandbox.url}/api/v2/sessions/{uuid.uuid4()}/cancel", headers=bearer(access))
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "error_description": "Session not found for client sandbox-client",
    }


# -- routing and robustness -------------------------------------------------------------------------


def test_unknown_route_and_wrong_method(flinks_sandbox: SandboxServer) -> None:
    client = http()
    assert client.get(f"{flinks_sandbox.url}/api/v3/whatever").status_code == 404
    assert client.get(f"{flinks_sandbox.url}/nothing-here").status_code == 404
    wrong = client.get(f"{flinks_sandbox.url}/api/v2/sessions/{uuid.uuid4()}/cancel")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"
    assert client.get(f"{flinks_sandbox.url}/api/v1/authorize").status_code == 405


def test_oversized_body_is_413_and_the_server_lives_on(flinks_sandbox: SandboxServer) -> None:
    client = http()
    access = token(flinks_sandbox.url, client)
    response = client.post(
        f"{flinks_sandbox.url}/api/v2/sessions",
        data=b"x" * (1024 * 1024 + 1),
        headers={**bearer(access), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    create(flinks_sandbox.url)


def test_chunked_body_is_read(flinks_sandbox: SandboxServer) -> None:
    import json

    client = http()
    access = token(flinks_sandbox.url, client)
    payload = json.dumps(session_body()).encode()
    chunks = (payload[index : index + 16] for index in range(0, len(payload), 16))
    response = client.post(
        f"{flinks_sandbox.url}/api/v2/sessions",
        data=chunks,
        headers={**bearer(access), "Content-Type": "application/json"},
    )
    assert response.status_code == 201


def test_garbage_on_the_socket_does_not_kill_the_server(flinks_sandbox: SandboxServer) -> None:
    with socket.create_connection(("127.0.0.1", flinks_sandbox.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        answer = raw.recv(1024)
    assert b'"status":400' in answer
    with socket.create_connection(("127.0.0.1", flinks_sandbox.port), timeout=5) as raw:
        raw.sendall(b"POST /api/v2/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        assert b" 400 " in raw.recv(1024)
    create(flinks_sandbox.url)


# -- expiry -----------------------------------------------------------------------------------------


def test_idle_session_expires(flinks_sandbox_factory: SandboxFactory) -> None:
    sandbox = flinks_sandbox_factory(expire_after=0.3)
    session_id, access = create(sandbox.url)
    time.sleep(0.4)
    status = http().get(f"{sandbox.url}/api/v2/sessions/{session_id}/status", headers=bearer(access)).json()
    assert (status["status"], status["statusDetails"]) == ("Expired", "EFT0601")
    cancel = http().post(f"{sandbox.url}/api/v2/sessions/{session_id}/cancel", headers=bearer(access))
    assert cancel.status_code == 400


def test_activity_on_the_page_keeps_a_session_alive(flinks_sandbox_factory: SandboxFactory) -> None:
    # Three touches a second apart outlast an idle expiry of 2 s; each answer has a second to come back (a
    # quarter of one was too little on a machine crowded by other tests).
    sandbox = flinks_sandbox_factory(expire_after=2)
    session_id, _ = create(sandbox.url)
    for _ in range(3):
        time.sleep(1)
        assert http().post(f"{sandbox.url}/app/api/{session_id}/touch").status_code == 200
    assert sandbox.state.get(session_id).status == "Initiated"
