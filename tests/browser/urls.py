"""A test-only shop page with the checkout tag, served by ``live_server`` (``@pytest.mark.urls``)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template import engines
from django.urls import include, path
from django.views.decorators.cache import never_cache

from flinks_sessions.models import PaymentSession

CHECKOUT = engines["django"].from_string(
    """<!doctype html>
<html><head><meta charset="utf-8"><title>Checkout</title></head>
<body>
  <h1>Checkout</h1>
  <p id="warning" data-flinks-while-open data-flinks-exit-warning>Leaving this page cancels the payment.</p>
  {% load flinks_sessions %}{% flinks_checkout session height=420 %}
  <a id="leave" href="/elsewhere/">Back to the shop</a>
  <a id="full-page" href="{{ session.hosted_url }}" data-flinks-no-exit data-flinks-while-open>Open the payment page</a>
</body></html>"""
)


@never_cache  # what the README asks of every view that renders the checkout tag
def checkout(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = get_object_or_404(PaymentSession, session_id=session_id)
    return HttpResponse(CHECKOUT.render({"session": session}, request))


SUCCESS_CHECKOUT = engines["django"].from_string(
    """<!doctype html>
<html><head><meta charset="utf-8"><title>Checkout</title></head>
<body>{% load flinks_sessions %}{% flinks_checkout session height=420 success_url="/elsewhere/" %}</body></html>"""
)


@never_cache
def checkout_with_success_page(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = get_object_or_404(PaymentSession, session_id=session_id)
    return HttpResponse(SUCCESS_CHECKOUT.render({"session": session}, request))


def elsewhere(request: HttpRequest) -> HttpResponse:
    return HttpResponse('<!doctype html><html><body><p id="elsewhere">Somewhere else</p></body></html>')


urlpatterns = [
    path("checkout/<uuid:session_id>/", checkout, name="checkout"),
    path("checkout-to-success/<uuid:session_id>/", checkout_with_success_page, name="checkout-to-success"),
    path("elsewhere/", elsewhere, name="elsewhere"),
    path("flinks/", include("flinks_sessions.urls")),
]
