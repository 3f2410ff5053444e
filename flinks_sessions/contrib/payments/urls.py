"""``path("payments/flinks/", include("flinks_sessions.contrib.payments.urls"))``: the checkout page."""

from __future__ import annotations

from django.urls import path

from flinks_sessions.contrib.payments.views import checkout

app_name = "flinks_payments"

urlpatterns = [path("<uuid:token>/", checkout, name="checkout")]
