"""Schemathesis hooks for ``scripts/schemathesis.sh``: give some requests real credentials.

Generated data alone only ever reaches the refusals (403 without a valid exit token, 400/401 without a valid
webhook signature). So one request in ``EVERY`` to a browser endpoint is pointed at the session the script
seeded for them, with its real exit token, and one webhook in ``EVERY`` is signed with the site's secret (over
the exact bytes sent) and, when its payload is an object, names the session seeded for webhooks. Their answers
(202, 200, the webhook's processing) are then checked against the schema like every other.

Read from the environment: ``FLINKS_ST_SESSION_ID``, ``FLINKS_ST_TOKEN``, ``FLINKS_ST_WEBHOOK_SESSION_ID``,
``FLINKS_ST_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

import schemathesis

from flinks_sessions.signatures import SignatureForm, sign

EVERY = 3
_counter = itertools.count()
_lock = threading.Lock()


def _chosen() -> bool:
    with _lock:
        return next(_counter) % EVERY == 0


def _with_token(case: Any, token: str) -> None:
    if case.method.upper() == "GET":
        case.headers = {**(case.headers or {}), "X-Flinks-Exit-Token": token}
        return
    if case.media_type == "text/plain" or isinstance(case.body, str):
        case.body = f"token={token}&reason=pagehide"
    elif isinstance(case.body, dict):
        case.body = {**case.body, "token": token}
    else:
        case.body = {"token": token}


class _Signer:
    """A ``requests`` auth: signs the prepared body, so the signature covers exactly the bytes sent."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def __call__(self, request: Any) -> Any:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers[SignatureForm.WEBHOOK_SIGNATURE.value] = sign(body, self.secret)
        return request


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    path = case.operation.path
    if "{session_id}" in path:
        session_id = os.environ.get("FLINKS_ST_SESSION_ID", "")
        token = os.environ.get("FLINKS_ST_TOKEN", "")
        if session_id and token and _chosen():
            case.path_parameters = {**(case.path_parameters or {}), "session_id": session_id}
            _with_token(case, token)
    elif path.endswith("/webhooks/") and case.method.upper() == "POST":
        session_id = os.environ.get("FLINKS_ST_WEBHOOK_SESSION_ID", "")
        secret = os.environ.get("FLINKS_ST_WEBHOOK_SECRET", "")
        if secret and _chosen():
            if session_id and isinstance(case.body, dict) and isinstance(case.body.get("payload"), dict):
                case.body = {**case.body, "payload": {**case.body["payload"], "sessionId": session_id}}
            kwargs["auth"] = _Signer(secret)
