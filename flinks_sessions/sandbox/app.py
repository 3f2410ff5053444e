"""One sandbox's parts wired together, and the dispatch of a request to the API, the page or the controls.

This is also where faults are applied and API calls are logged, in one place, so that no endpoint can forget
either and so that the control routes and the hosted page are provably never faulted.
"""

from __future__ import annotations

import dataclasses
import html
import math
import threading

from .api import FlinksApi
from .config import SandboxConfig
from .control_api import ControlApi
from .faults import FaultDecision, Faults, FaultSettings
from .hosted_page import HostedPage
from .requestlog import RequestLog, authorization_kind
from .state import SandboxState
from .webhooks import WebhookSender
from .wire import DROP, Request, Response, _Drop, json_response, problem

MAX_BODY = 1024 * 1024  # 1 MiB; larger bodies are answered 413 without being read


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def is_control_path(path: str) -> bool:
    return path == "/_sandbox" or path.startswith("/_sandbox/")


def is_page_path(path: str) -> bool:
    return path == "/app" or path.startswith("/app/")


class SandboxApp:
    """Everything one sandbox owns, independent of the HTTP server that feeds it requests."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        faults: FaultSettings | None = None,
        *,
        control_token: str | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self._initial_config = self.config.copy()
        self._initial_faults = dataclasses.replace(faults) if faults else FaultSettings()
        self.stopping = threading.Event()
        self.state = SandboxState(self.config)
        self.faults = Faults(self._initial_faults)
        self.log = RequestLog()
        self.webhooks = WebhookSender(
            self.config, self.stopping, offer_undelivered=self.state.guarantee_undelivered
        )
        self.state.add_listener(self.webhooks)
        self.state.add_offer_listener(self.webhooks.offer)
        self.api = FlinksApi(self.config, self.state)
        self.page = HostedPage(self.state)
        self.control = ControlApi(
            config=self.config,
            state=self.state,
            faults=self.faults,
            log=self.log,
            webhooks=self.webhooks,
            reset=self.reset,
            token=control_token,
        )

    def reset(self) -> None:
        """Back to the start: no sessions, tokens, log or deliveries; the initial config and faults."""
        self.state.reset()
        self.log.clear()
        self.webhooks.clear()
        self.faults.replace(self._initial_faults)
        for item in dataclasses.fields(self._initial_config):
            setattr(self.config, item.name, getattr(self._initial_config.copy(), item.name))

    def handle(self, request: Request) -> Response | _Drop:
        path = request.path
        if is_api_path(path):
            return self._api(request)
        if request.body_too_large:
            return json_response(413, {"error": f"request body larger than {MAX_BODY} bytes"})
        if is_control_path(path):
            return self.control.handle(request)
        if is_page_path(path):
            return self.page.handle(request)
        if path == "/" and request.method == "GET":
            return self._root(request)
        return problem(404, f"No route for {request.method} {path}", path)

    def _root(self, request: Request) -> Response:
        """What the demo's banner links to: a page for a person, the same facts as JSON for a program."""
        accept = request.header("accept") or ""
        if "application/json" in accept and "text/html" not in accept:
            return json_response(
                200,
                {
                    "service": "Flinks Pay sandbox",
                    "api": ["/api/v1/authorize", "/api/v2/sessions"],
                    "hosted_page": "/app/?sessionId={sessionId}",
                    "control": "/_sandbox",
                },
            )
        recent = sorted(self.state.sessions(), key=lambda session: session.created_at, reverse=True)[:20]
        items = "".join(
            f'<li><a href="/app/?sessionId={html.escape(session.session_id)}">{html.escape(session.session_id)}</a>'
            f" {html.escape(session.status_label())}</li>"
            for session in recent
        )
        body = ROOT_PAGE.format(sessions=f"<ul>{items}</ul>" if items else "<p>No session yet.</p>")
        return Response(200, body.encode("utf-8"), "text/html; charset=utf-8")

    def _api(self, request: Request) -> Response | _Drop:
        authorization = authorization_kind(request.header("authorization"))
        if request.body_too_large:
            response = problem(413, f"Request body larger than {MAX_BODY} bytes", request.path)
            self.log.record(request.method, request.path, 413, authorization)
            return response
        decision = self.faults.decide(request.path)
        if decision.delay and self.stopping.wait(decision.delay):
            return DROP  # the sandbox is stopping: do not keep the client waiting for an answer
        if decision.drop:
            self.log.record(request.method, request.path, None, authorization, decision.kind)
            return DROP
        faulted = decision.status is not None
        if decision.status == 401:
            # A revoked token stays revoked: only a client that fetches a new one recovers.
            scheme, _, value = (request.header("authorization") or "").strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                self.state.revoke_token(value.strip())
        response = injected_error(decision, request.path) if faulted else self.api.handle(request)
        self.log.record(request.method, request.path, response.status, authorization, decision.kind)
        return response


ROOT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flinks Pay sandbox</title></head>
<body>
<h1>Flinks Pay sandbox</h1>
<p>A local emulator of the Flinks Pay API (flinks-sessions' development and test double). It is not Flinks:
no money moves and nothing leaves this machine.</p>
<h2>Hosted page</h2>
<p>The hosted payment flow is at <code>/app/?sessionId=&lt;id&gt;</code>; the shop opens it at checkout.
Recent sessions:</p>
{sessions}
<h2>API</h2>
<p>The Flinks endpoints: <code>POST /api/v1/authorize</code> and <code>/api/v2/sessions</code>.</p>
<h2>Control API</h2>
<p><a href="/_sandbox">/_sandbox</a> lists the control routes (JSON): complete, fail or expire a session,
inject faults, read the request log and the webhooks sent. They answer only on loopback, to a request carrying
the sandbox's control token in <code>X-Sandbox-Token</code>.</p>
</body></html>
"""


def injected_error(decision: FaultDecision, path: str) -> Response:
    """The answer to a call chosen to fail: ProblemDetails, plus ``Retry-After`` when one is configured."""
    status = decision.status or 500
    headers: dict[str, str] = {}
    if decision.retry_after is not None:
        # delay-seconds is an integer on the wire; round up so a client never retries early.
        headers["Retry-After"] = str(max(0, math.ceil(decision.retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="flinks"'
        return problem(401, "Valid access token required (the token was revoked)", path, headers)
    return problem(status, f"Injected fault: the sandbox answers {status} to this call", path, headers)
