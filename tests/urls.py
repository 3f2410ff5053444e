from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from flinks_sessions.api.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("flinks/", include("flinks_sessions.urls")),
    path("metrics", metrics_view, name="metrics"),
]
if settings.HAS_PAYMENTS:  # django-payments' own views, and the provider's checkout page
    urlpatterns += [
        path("payments/", include("payments.urls")),
        path("payments/flinks/", include("flinks_sessions.contrib.payments.urls")),
        path("payments/done/", include("tests.payments_app.urls")),
    ]
