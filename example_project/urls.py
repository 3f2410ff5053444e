"""The shop, the app's endpoints (exit beacon, status, webhooks) and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("example_project.shop.urls")),
    path("flinks/", include("flinks_sessions.urls")),
    path("admin/", admin.site.urls),
]
