"""The ``/_sandbox/`` routes: how a test or benchmark in another process inspects and steers the emulator.

They are JSON, answer only loopback clients that show the sandbox's control token (``access.py``), and are
never faulted, so a test can always read the request log or switch faults off even while the API is failing
on purpose. ``control.py`` holds the
typed client for these routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .access import new_token, refusal
from .config import SandboxConfig
from .faults import Faults, FaultSettings
from .requestlog import RequestLog
from .state import SandboxState, Session, SessionNotFoundError, SessionTerminalError
from .validation import InvalidSessionError, validate_new_session
from .webhooks import WebhookSender
from .wire import Request, Response, json_response

SESSION_ROUTE = re.compile(
    r"^/_sandbox/sessions/(?P<id>[^/]+)(?:/(?P<action>complete|fail|expire|start|cancel|pay))?$"
)
ROUTES = [
    "GET /_sandbox/health",
    "GET|DELETE /_sandbox/requests",
    "GET|POST|PATCH|DELETE /_sandbox/faults",
    "POST /_sandbox/faults/fail-next",
    "GET|POST /_sandbox/sessions",
    "GET /_sandbox/sessions/{id}",
    "POST /_sandbox/sessions/{id}/complete|fail|expire|start|cancel|pay",
    "POST /_sandbox/tokens/revoke",
    "GET|POST /_sandbox/config",
    "GET|DELETE /_sandbox/webhooks",
    "POST /_sandbox/reset",
]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": message}, headers)


def _json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    if optional and not request.body.strip():
        return {}
    data = request.json()
    if not isinstance(data, dict):
        raise ValueError("request body must be a JSON object")
    return data


class ControlApi:
    """Routes ``/_sandbox/...``; ``reset`` is supplied by the app so it can clear everything it owns."""

    def __init__(
        self,
        *,
        config: SandboxConfig,
        state: SandboxState,
        faults: Faults,
        log: RequestLog,
        webhooks: WebhookSender,
        reset: Callable[[], None],
        token: str | None = None,
    ) -> None:
        self.token = token or new_token()
        self.config = config
        self.state = state
        self.faults = faults
        self.log = log
        self.webhooks = webhooks
        self.reset = reset

    def handle(self, request: Request) -> Response:
        refused = refusal(request, self.token)
        if refused is not None:
            return refused
        path = request.path.rstrip("/")
        try:
            return self._route(request, path)
        except ValueError as invalid:
            return _error(400, str(invalid))

    def _route(self, request: Request, path: str) -> Response:
        method = request.method
        simple: dict[str, dict[str, Callable[[Request], Response]]] = {
            "/_sandbox": {"GET": self.health},
            "/_sandbox/health": {"GET": self.health},
            "/_sandbox/requests": {"GET": self.requests, "DELETE": self.clear_requests},
            "/_sandbox/faults": {
                "GET": self.get_faults,
                "POST": self.replace_faults,
                "PATCH": self.update_faults,
                "DELETE": self.clear_faults,
            },
            "/_sandbox/faults/fail-next": {"POST": self.fail_next},
            "/_sandbox/sessions": {"GET": self.sessions, "POST": self.create_session},
            "/_sandbox/tokens/revoke": {"POST": self.revoke_tokens},
            "/_sandbox/config": {"GET": self.get_config, "POST": self.update_config},
            "/_sandbox/webhooks": {"GET": self.deliveries, "DELETE": self.clear_deliveries},
            "/_sandbox/reset": {"POST": self.reset_all},
        }
        if path in simple:
            handlers = simple[path]
            if method not in handlers:
                return _error(405, f"{method} not allowed", {"Allow": ", ".join(handlers)})
            return handlers[method](request)
        match = SESSION_ROUTE.match(path)
        if match is None:
            return _error(404, f"no control route {path}; see GET /_sandbox for the list")
        expected = "POST" if match["action"] else "GET"
        if method != expected:
            return _error(405, f"{method} not allowed", {"Allow": expected})
        return self.session_action(request, match["id"].lower(), match["action"])

    # -- handlers --------------------------------------------------------------------------------------------

    def health(self, _request: Request) -> Response:
        return json_response(200, {"ok": True, "routes": ROUTES})

    def requests(self, _request: Request) -> Response:
        entries = self.log.entries()
        return json_response(200, {"count": len(entries), "requests": entries})

    def clear_requests(self, _request: Request) -> Response:
        return json_response(200, {"cleared": self.log.clear()})

    def get_faults(self, _request: Request) -> Response:
        return json_response(200, self.faults.to_dict())

    def replace_faults(self, request: Request) -> Response:
        self.faults.replace(FaultSettings.from_dict(_json_object(request, optional=True)))
        return json_response(200, self.faults.to_dict())

    def update_faults(self, request: Request) -> Response:
        changes = _json_object(request)
        FaultSettings.from_dict(changes)  # validates names and values before anything changes
        self.faults.update(**changes)
        return json_response(200, self.faults.to_dict())

    def clear_faults(self, _request: Request) -> Response:
        self.faults.clear()
        return json_response(200, self.faults.to_dict())

    def fail_next(self, request: Request) -> Response:
        data = request.json()
        outcomes = data.get("outcomes") if isinstance(data, dict) else data
        if not isinstance(outcomes, list):
            raise ValueError('body must be {"outcomes": [503, "drop", ...]} or a JSON list')
        self.faults.fail_next_calls(*outcomes)
        return json_response(200, self.faults.to_dict())

    def sessions(self, _request: Request) -> Response:
        views = [session.control_view() for session in self.state.sessions()]
        return json_response(200, {"count": len(views), "sessions": views})

    def create_session(self, request: Request) -> Response:
        """Create a session without a token, for tests that only need one to exist."""
        try:
            new = validate_new_session(request.json())
        except InvalidSessionError as invalid:
            return _error(400, str(invalid))
        session = self.state.create_session(new, client_id=self.config.client_id)
        return json_response(201, session.control_view())

    def session_action(self, request: Request, session_id: str, action: str | None) -> Response:
        try:
            if action is None:
                return json_response(200, self.state.get(session_id).control_view())
            details = _json_object(request, optional=True).get("statusDetails")
            if details is not None and not isinstance(details, str):
                raise ValueError("statusDetails must be a string")
            session = self._drive(session_id, action, details)
        except SessionNotFoundError:
            return _error(404, f"Session {session_id} not found")
        except SessionTerminalError as ended:
            return json_response(
                409,
                {"error": f"Session {session_id} has already ended", "session": ended.session.control_view()},
            )
        return json_response(200, session.control_view())

    def _drive(self, session_id: str, action: str, details: str | None) -> Session:
        if action == "complete":
            return self.state.complete(session_id, details or "EFT0301", source="control")
        if action == "fail":
            return self.state.fail(session_id, details, source="control")
        if action == "expire":
            return self.state.expire(session_id, source="control")
        if action == "cancel":
            return self.state.cancel(session_id, source="control")
        if action == "pay":  # as the shopper would: through the guarantee step when it is configured
            return self.state.pay(session_id, source="control")
        return self.state.start(session_id, source="control")

    def revoke_tokens(self, _request: Request) -> Response:
        return json_response(200, {"revoked": self.state.revoke_tokens()})

    def get_config(self, _request: Request) -> Response:
        return json_response(200, self.config.public_view())

    def update_config(self, request: Request) -> Response:
        self.config.update(_json_object(request))
        return json_response(200, self.config.public_view())

    def deliveries(self, _request: Request) -> Response:
        records = self.webhooks.deliveries
        return json_response(
            200, {"count": len(records), "pending": self.webhooks.pending(), "deliveries": records}
        )

    def clear_deliveries(self, _request: Request) -> Response:
        return json_response(200, {"cleared": self.webhooks.clear()})

    def reset_all(self, _request: Request) -> Response:
        self.reset()
        return json_response(200, {"ok": True})
