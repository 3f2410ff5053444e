"""Both receivers: the package's at ``flinks/``, dj-stripe's at ``stripe/webhook/<uuid>/``."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("flinks/", include("flinks_sessions.urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
]
