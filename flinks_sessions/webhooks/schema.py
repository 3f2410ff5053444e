"""The webhook receiver in the site's OpenAPI schema: a drf-spectacular postprocessing hook.

The receiver is a plain Django view (it must read the raw body before anything parses it), so drf-spectacular
never sees it. This hook adds it by hand, with every answer the view gives (see :mod:`.views`) and the
signature headers the site accepts (``WEBHOOK_SIGNATURE_HEADERS``). Add it to
``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]`` after drf-spectacular's own hook (the settings are in
:mod:`flinks_sessions.api.schema`).

Plain data: importing this module does not need drf-spectacular, only calling the hook does.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.translation import gettext_lazy as _

from flinks_sessions.api.schema import TAG
from flinks_sessions.conf import get_settings
from flinks_sessions.models import WebhookDelivery
from flinks_sessions.signatures import SignatureForm

Outcome = WebhookDelivery.Outcome

_SIGNATURE_DESCRIPTIONS = {
    SignatureForm.WEBHOOK_SIGNATURE: _(
        "HMAC-SHA256 of the raw body as 'sha256=<hex digest>' (GEFT). "
        "At least one accepted signature header is required."
    ),
    SignatureForm.FLINKS_SIGNATURE: _(
        "HMAC-SHA256 of the raw body, base64. At least one accepted signature header is required."
    ),
    SignatureForm.AUTHENTICITY_KEY: _(
        "HMAC-SHA256 of the raw body, base64. At least one accepted signature header is required."
    ),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


COMPONENTS: dict[str, dict[str, Any]] = {
    "FlinksWebhookEnvelope": {
        "type": "object",
        "description": _("What Flinks posts; an unknown event type is stored and acknowledged."),
        "required": ["type"],
        "properties": {
            "when": {
                "type": "string",
                "format": "date-time",
                "description": _("When Flinks sent it, in UTC with seven fractional digits."),
                "example": "2025-11-18T14:36:48.6078123Z",
            },
            "type": {"type": "string", "example": "SessionSetupStatusChanged"},
            "payload": {"$ref": "#/components/schemas/FlinksWebhookPayload"},
        },
    },
    "FlinksWebhookPayload": {
        "type": "object",
        "description": _("Required for SessionSetupStatusChanged: at least sessionId and status."),
        "properties": {
            "sessionId": {"type": "string", "format": "uuid"},
            "amount": {"type": "number"},
            "referenceId": {"type": "string"},
            "status": {"type": "string", "example": "COMPLETED"},
            "statusDetails": {"type": "string"},
        },
    },
    "FlinksWebhookOutcome": {
        "type": "object",
        "required": ["outcome"],
        "properties": {
            "outcome": {
                "type": "string",
                "enum": [choice.value for choice in Outcome],
                "description": _("What became of the stored delivery."),
            }
        },
    },
    "FlinksWebhookError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "detail": {"type": "string", "description": _("Why the body is malformed.")},
        },
    },
}


def webhook_path_item(forms: tuple[SignatureForm, ...]) -> dict[str, Any]:
    """The OpenAPI path item of the receiver, accepting the signature headers in ``forms``."""
    headers = [
        {
            "name": form.value,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": _SIGNATURE_DESCRIPTIONS[form],
        }
        for form in forms
    ]
    return {
        "post": {
            "operationId": "flinks_sessions_webhook",
            "summary": _("Flinks posts SessionSetupStatusChanged here."),
            "description": _(
                "Every signed delivery is stored before it is processed. A delivery that is valid but "
                "cannot change anything (unknown session, duplicate, after a terminal state, unknown event "
                "type, processing error) is still answered 200: Flinks sends each webhook once and never "
                "retries."
            ),
            "tags": [TAG],
            "security": [],
            "parameters": headers,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("FlinksWebhookEnvelope")}},
            },
            "responses": {
                "200": _json("FlinksWebhookOutcome", _("Stored and processed.")),
                "202": _json("FlinksWebhookOutcome", _("Stored; a task processes it (WEBHOOK_ASYNC).")),
                "400": _json(
                    "FlinksWebhookError",
                    _(
                        "No accepted signature header (nothing stored), or the body is not the envelope (stored)."
                    ),
                ),
                "401": _json(
                    "FlinksWebhookError",
                    _("The signature matches no secret, or is outside WEBHOOK_MAX_AGE (stored)."),
                ),
                "413": _json(
                    "FlinksWebhookError", _("The body is larger than WEBHOOK_MAX_BODY (nothing stored).")
                ),
            },
        },
        "head": {
            "operationId": "flinks_sessions_webhook_probe",
            "summary": _("Liveness probe for uptime checks and Flinks' onboarding."),
            "tags": [TAG],
            "security": [],
            "responses": {"200": {"description": _("The receiver is routed.")}},
        },
    }


def _schema_path(generator: Any) -> str | None:
    """The receiver's path as the schema writes paths, or ``None`` when the site does not route it."""
    try:
        path = reverse("flinks_sessions:webhook", urlconf=getattr(generator, "urlconf", None))
    except NoReverseMatch:
        return None
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    from drf_spectacular.settings import spectacular_settings

    if spectacular_settings.SCHEMA_PATH_PREFIX_TRIM:
        path = re.sub(f"^{spectacular_settings.SCHEMA_PATH_PREFIX}", "", path) or "/"
    return path


def add_webhook_operation(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the webhook receiver and its components to ``result``."""
    path = _schema_path(generator)
    if path is None:
        return result
    result.setdefault("paths", {})[path] = webhook_path_item(get_settings().webhook_signature_forms)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in COMPONENTS.items():
        schemas.setdefault(name, copy.deepcopy(schema))
    return result
