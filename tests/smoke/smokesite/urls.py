"""The shop's URLs: the admin and the app's endpoints, included as the README says."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("flinks/", include("flinks_sessions.urls")),
]
