"""Include with ``path("flinks/", include("flinks_sessions.urls"))``."""

from __future__ import annotations

from django.urls import URLPattern, path

from flinks_sessions.api import recover as api_recover
from flinks_sessions.api import restart as api_restart
from flinks_sessions.api import views as api_views
from flinks_sessions.webhooks.views import webhook_view

app_name = "flinks_sessions"

urlpatterns: list[URLPattern] = [
    # The browser endpoints (flinks_sessions.api): exit beacon, back/forward-cache resume, status poll,
    # Start again.
    # ``str``, not ``uuid``: a malformed id gets the endpoints' own JSON 404, not the site's 404 page.
    path("sessions/<str:session_id>/", api_views.SessionStatusView.as_view(), name="session-status"),
    path("sessions/<str:session_id>/exit/", api_views.SessionExitView.as_view(), name="session-exit"),
    path("sessions/<str:session_id>/resume/", api_views.SessionResumeView.as_view(), name="session-resume"),
    path(
        "sessions/<str:session_id>/restart/", api_restart.SessionRestartView.as_view(), name="session-restart"
    ),
    # The recovery link of an abandoned checkout (services.recovery): GET shows it, POST starts again.
    path("recover/<str:token>/", api_recover.recover_view, name="recover"),
    # The webhook receiver (flinks_sessions.webhooks): Flinks posts SessionSetupStatusChanged here.
    path("webhooks/", webhook_view, name="webhook"),
]
