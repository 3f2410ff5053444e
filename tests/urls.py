from django.contrib import admin
from django.urls import include, path

from flinks_sessions.api.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("flinks/", include("flinks_sessions.urls")),
    path("metrics", metrics_view, name="metrics"),
]
