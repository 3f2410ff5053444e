"""The shop, the app's endpoints (exit beacon, status, webhooks), the admin and the OpenAPI schema."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("example_project.shop.urls")),
    path("flinks/", include("flinks_sessions.urls")),
    path("admin/", admin.site.urls),
]
if apps.is_installed("drf_spectacular"):  # the `openapi` extra: the schema of the app's endpoints
    from drf_spectacular.views import SpectacularAPIView

    urlpatterns.append(path("api/schema/", SpectacularAPIView.as_view(), name="schema"))
