"""Both receivers: the package's at ``flinks/``, dj-stripe's at ``stripe/webhook/<uuid>/``; and bench/webhooks.py's
floors, the least any implementation of the package's receiver can do."""

from __future__ import annotations

from django.urls import include, path

from bench.webhooks import floor_urlpatterns

urlpatterns = [
    path("flinks/", include("flinks_sessions.urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    *floor_urlpatterns(),
]
