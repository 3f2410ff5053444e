"""The OpenAPI description of the browser endpoints, for drf-spectacular (the ``openapi`` extra).

Documentation only: nothing here changes how a request is answered. The serializers below are plain DRF and
describe bodies the views read and write by hand (the beacon parses leniently, see :mod:`.serializers`). When
drf-spectacular is installed, one ``OpenApiViewExtension`` per view attaches them, with every answer the view
can give; extensions are applied while a schema is generated, so the site's ``DEFAULT_SCHEMA_CLASS`` is read
then rather than when this module is imported. Without drf-spectacular this module registers nothing.

The webhook receiver is a plain Django view, which drf-spectacular does not see; it is added by the
postprocessing hook in :mod:`flinks_sessions.webhooks.schema`. A site's settings, with ``drf_spectacular`` in
``INSTALLED_APPS`` and ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"``::

    SPECTACULAR_SETTINGS = {
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "flinks_sessions.webhooks.schema.add_webhook_operation",
        ],
        # A session's status enum by a name that cannot collide with the site's own "status" fields.
        "ENUM_NAME_OVERRIDES": {"FlinksSessionStatusEnum": "flinks_sessions.status.Status"},
    }
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from flinks_sessions.api.serializers import EXIT_REASONS, SessionStatusSerializer
from flinks_sessions.status import Status

TAG = "flinks-sessions"


class FlinksExitBeaconSerializer(serializers.Serializer):
    """What a page's sendBeacon posts to the exit endpoint."""

    token = serializers.CharField(
        max_length=200, help_text=_("The signed exit token the checkout page was rendered with.")
    )
    reason = serializers.CharField(
        required=False,
        help_text=_("Why the page is leaving: one of %(reasons)s; anything else is stored as 'other'.")
        % {"reasons": ", ".join(sorted(EXIT_REASONS))},
    )
    grace = serializers.BooleanField(
        required=False,
        help_text=_(
            "True (also 1, yes, on) when the page went into the back/forward cache: the cancel waits "
            "EXIT_GRACE_PERIOD seconds and the resume endpoint may take it back."
        ),
    )


class FlinksExitTokenSerializer(serializers.Serializer):
    """What the resume endpoint reads: only the exit token."""

    token = serializers.CharField(
        max_length=200, help_text=_("The signed exit token the checkout page was rendered with.")
    )


class FlinksExitAcceptedSerializer(serializers.Serializer):
    sessionId = serializers.UUIDField(read_only=True)  # noqa: N815 - JSON casing
    queued = serializers.BooleanField(
        read_only=True,
        help_text=_("False when the session had already ended or a cancel was already asked for."),
    )


class FlinksResumeResultSerializer(serializers.Serializer):
    sessionId = serializers.UUIDField(read_only=True)  # noqa: N815 - JSON casing
    withdrawn = serializers.BooleanField(
        read_only=True,
        help_text=_("True when a graced (bfcache) cancel was taken back before a worker ran it."),
    )


class FlinksSessionStatusSerializer(SessionStatusSerializer):
    """The status poll's answer, with the statuses a session can have spelled out."""

    status = serializers.ChoiceField(choices=Status.choices, read_only=True)  # type: ignore[assignment]


class FlinksRestartSerializer(serializers.Serializer):
    """What "Start again" answers: the successor, and what the page needs to show it in place."""

    sessionId = serializers.UUIDField(read_only=True)  # noqa: N815 - JSON casing
    previousSessionId = serializers.UUIDField(read_only=True)  # noqa: N815
    hostedUrl = serializers.URLField(read_only=True, help_text=_("The successor's hosted payment page."))  # noqa: N815
    token = serializers.CharField(read_only=True, help_text=_("The successor's exit token."))
    exitUrl = serializers.CharField(read_only=True)  # noqa: N815
    resumeUrl = serializers.CharField(read_only=True)  # noqa: N815
    statusUrl = serializers.CharField(read_only=True)  # noqa: N815
    restartUrl = serializers.CharField(read_only=True)  # noqa: N815


class FlinksRestartRefusedSerializer(serializers.Serializer):
    sessionId = serializers.UUIDField(read_only=True)  # noqa: N815 - JSON casing
    pending = serializers.BooleanField(
        read_only=True,
        help_text=_("True while another request creates the successor: ask again in a moment."),
    )
    limitReached = serializers.BooleanField(  # noqa: N815 - JSON casing
        read_only=True,
        required=False,
        help_text=_(
            "True when the order was started again RESTART_LIMIT times: no further successor is created."
        ),
    )
    detail = serializers.CharField(read_only=True, required=False)


class FlinksErrorSerializer(serializers.Serializer):
    """DRF's error body."""

    detail = serializers.CharField(read_only=True)


def _responses(*codes: int) -> dict[int, Any]:
    """The error answers the browser endpoints share (DRF's ``{"detail": ...}``), for the given codes."""
    from drf_spectacular.utils import OpenApiResponse

    descriptions = {
        400: _(
            "The body could not be parsed: malformed JSON or multipart, or a charset that is no text encoding."
        ),
        403: _("The exit token is missing, malformed, expired, or was issued for another session."),
        404: _("No session with this id."),
        405: _("Another method than the one documented."),
        411: _("A chunked body (no Content-Length) that this server cannot frame: send Content-Length."),
        413: _("The body is larger than BEACON_MAX_BODY."),
        415: _("A body of a media type the endpoint does not read."),
        429: _("Too many requests for this session from this address (BEACON_THROTTLE_RATE)."),
        503: _("The site's database is unavailable; try again later."),
    }
    return {code: OpenApiResponse(FlinksErrorSerializer, description=descriptions[code]) for code in codes}


def _beacon_body(serializer: type[serializers.Serializer]) -> dict[str, Any]:
    """Every body a beacon may send (:mod:`.parsers`); ``text/plain`` carries the fields as a query string."""
    from drf_spectacular.types import OpenApiTypes

    return {
        "application/x-www-form-urlencoded": serializer,
        "multipart/form-data": serializer,
        "text/plain": OpenApiTypes.STR,
        "application/json": serializer,
    }


def _session_id() -> Any:
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        "session_id",
        OpenApiTypes.UUID,
        OpenApiParameter.PATH,
        description=_("The Flinks session id; anything that is not a UUID is answered 404."),
    )


def _retry_after() -> Any:
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        description=_("Seconds until the throttle lets the next request through."),
        response=[429],
    )


def _operation(name: str, summary: Any, description: Any, **arguments: Any) -> dict[str, Any]:
    """``extend_schema`` arguments of one browser endpoint: besides its own, what they all share (no login, the
    tag, the session id in the path and the throttle's Retry-After)."""
    parameters = arguments.pop("parameters", [])
    return {
        "operation_id": f"flinks_sessions_{name}",
        "summary": summary,
        "description": description,
        "parameters": [_session_id(), *parameters, _retry_after()],
        "auth": [],
        "tags": [TAG],
        **arguments,
    }


def exit_operation() -> dict[str, Any]:
    """``extend_schema`` arguments for ``POST sessions/<id>/exit/``."""
    from drf_spectacular.utils import OpenApiResponse

    return _operation(
        "exit",
        _("The shopper left the checkout page: cancel the session in the background."),
        _(
            "The page-exit beacon. Records the cancel intent and enqueues the cancel; never waits for Flinks. "
            "A repeat, or a session that has already ended, is accepted and changes nothing (queued: false). "
            "The token proves the page was rendered for this session: there is no login and no CSRF token. "
            "The text/plain body is the fields as a query string (token=...&reason=...)."
        ),
        request=_beacon_body(FlinksExitBeaconSerializer),
        responses={
            202: OpenApiResponse(FlinksExitAcceptedSerializer, description=_("Accepted.")),
            **_responses(400, 403, 404, 405, 411, 413, 415, 429, 503),
        },
    )


def resume_operation() -> dict[str, Any]:
    """``extend_schema`` arguments for ``POST sessions/<id>/resume/``."""
    from drf_spectacular.utils import OpenApiResponse

    return _operation(
        "resume",
        _("The page came back from the back/forward cache: take back its graced cancel."),
        _(
            "Only a cancel asked for by a graced exit beacon, and not yet started by a worker, is withdrawn. "
            "The text/plain body is the fields as a query string (token=...)."
        ),
        request=_beacon_body(FlinksExitTokenSerializer),
        responses={
            200: OpenApiResponse(FlinksResumeResultSerializer, description=_("Done.")),
            **_responses(400, 403, 404, 405, 411, 413, 415, 429, 503),
        },
    )


def status_operation() -> dict[str, Any]:
    """``extend_schema`` arguments for ``GET sessions/<id>/`` with the ``X-Flinks-Exit-Token`` header."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

    return _operation(
        "status",
        _("The session's status as this site has stored it, for a page that polls."),
        _("Never calls Flinks: webhooks, syncs and cancels keep the stored status current."),
        parameters=[
            OpenApiParameter(
                "X-Flinks-Exit-Token",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description=_(
                    "The signed exit token the checkout page was rendered with. In a header, so that no access "
                    "log holds it."
                ),
            ),
            OpenApiParameter(
                "token",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                deprecated=True,
                description=_(
                    "The same token in the URL: read only when FLINKS_SESSIONS['STATUS_TOKEN_IN_QUERY'] is "
                    "True (a site whose own pages still send it), and only when the header is absent."
                ),
            ),
            OpenApiParameter(
                "Cache-Control",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description=_("Always no-store."),
                response=[200],
            ),
        ],
        responses={
            200: OpenApiResponse(FlinksSessionStatusSerializer, description=_("The stored status.")),
            **_responses(403, 404, 405, 429, 503),
        },
    )


def restart_operation() -> dict[str, Any]:
    """``extend_schema`` arguments for ``POST sessions/<id>/restart/``."""
    from drf_spectacular.utils import OpenApiResponse

    return _operation(
        "restart",
        _("Start again: the session that replaces this one, for the same order."),
        _(
            "Cancels the session first if it is still open, then creates its successor at Flinks with the same "
            "reference, amount and payor. A repeated request answers the same successor: one is created however "
            "often the button is clicked. The text/plain body is the fields as a query string (token=...)."
        ),
        request=_beacon_body(FlinksExitTokenSerializer),
        responses={
            201: OpenApiResponse(FlinksRestartSerializer, description=_("The successor was created.")),
            200: OpenApiResponse(FlinksRestartSerializer, description=_("The successor existed already.")),
            409: OpenApiResponse(
                FlinksRestartRefusedSerializer,
                description=_(
                    "Another request is creating the successor (pending), or this session cannot be restarted: "
                    "it completed, Flinks never confirmed it, it could not be cancelled, or its order was "
                    "started again RESTART_LIMIT times (limitReached, 5 by default): a bound per order, final."
                ),
            ),
            429: OpenApiResponse(
                FlinksErrorSerializer,
                description=_(
                    "Too many Start agains from this client address across sessions (RESTART_THROTTLE_RATE, "
                    "10/hour by default), or for this session (BEACON_THROTTLE_RATE). Retry-After says when."
                ),
            ),
            502: OpenApiResponse(
                FlinksErrorSerializer,
                description=_("Flinks could not create the successor; try again later."),
            ),
            **_responses(400, 403, 404, 405, 411, 413, 415, 503),
        },
    )


def annotated(view: type[Any], method: str, operation: dict[str, Any]) -> type[Any]:
    """A subclass of ``view`` carrying ``operation`` for ``method``; only the schema generator sees it."""
    from drf_spectacular.utils import extend_schema, extend_schema_view

    subclass = type(view.__name__, (view,), {"__module__": view.__module__, "__doc__": view.__doc__})
    return extend_schema_view(**{method: extend_schema(**operation)})(subclass)


try:
    from drf_spectacular.extensions import OpenApiViewExtension
except ImportError:  # the app works without drf-spectacular; there is just no schema to describe it
    pass
else:

    class SessionExitViewSchema(OpenApiViewExtension):
        target_class = "flinks_sessions.api.views.SessionExitView"

        def view_replacement(self) -> type[Any]:
            return annotated(self.target, "post", exit_operation())

    class SessionResumeViewSchema(OpenApiViewExtension):
        target_class = "flinks_sessions.api.views.SessionResumeView"

        def view_replacement(self) -> type[Any]:
            return annotated(self.target, "post", resume_operation())

    class SessionStatusViewSchema(OpenApiViewExtension):
        target_class = "flinks_sessions.api.views.SessionStatusView"

        def view_replacement(self) -> type[Any]:
            return annotated(self.target, "get", status_operation())

    class SessionRestartViewSchema(OpenApiViewExtension):
        target_class = "flinks_sessions.api.restart.SessionRestartView"

        def view_replacement(self) -> type[Any]:
            return annotated(self.target, "post", restart_operation())
