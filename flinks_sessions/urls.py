"""Include with ``path("flinks/", include("flinks_sessions.urls"))``."""

from __future__ import annotations

app_name = "flinks_sessions"

urlpatterns: list = []
