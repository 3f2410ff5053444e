"""The shop's pages after a payment: they say which one the provider sent the shopper to."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def done(request: HttpRequest, token: str, outcome: str) -> HttpResponse:
    return HttpResponse(f"{outcome} {token}", content_type="text/plain")


urlpatterns = [path("<str:token>/<str:outcome>/", done, name="payment-done")]
