"""The shop, the app's endpoints (exit beacon, status, webhooks), the admin, the OpenAPI schema and /metrics."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

from example_project.shop.views import favicon
from flinks_sessions.api.metrics import metrics_view

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),  # the admin's pages ask for it too
    path("", include("example_project.shop.urls")),
    path("flinks/", include("flinks_sessions.urls")),
    path("admin/", admin.site.urls),
    # Prometheus scrapes this (the `metrics` extra; 501 without it). A real site keeps it off the internet.
    path("metrics", metrics_view, name="metrics"),
]
if apps.is_installed("flinks_sessions.contrib.payments"):  # SHOP_CHECKOUT=django-payments
    urlpatterns += [
        path("payments/", include("payments.urls")),
        path("payments/flinks/", include("flinks_sessions.contrib.payments.urls")),
    ]
if apps.is_installed("drf_spectacular"):  # the `openapi` extra: the schema of the app's endpoints
    from drf_spectacular.views import SpectacularAPIView

    urlpatterns.append(path("api/schema/", SpectacularAPIView.as_view(), name="schema"))
