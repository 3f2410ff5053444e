"""The checkout page of a django-payments payment: the hosted flow of the session it carries, and the beacon."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from payments import get_payment_model
from payments.core import provider_factory

from flinks_sessions.contrib.payments.follow import follow
from flinks_sessions.contrib.payments.provider import FlinksProvider


@never_cache
def checkout(request: HttpRequest, token: UUID) -> HttpResponse:
    """The payment's token is its secret, as for django-payments' own process URL; an unknown one is a 404."""
    payment = get_payment_model().objects.filter(token=str(token)).first()
    if payment is None:
        raise Http404
    try:
        provider = provider_factory(payment.variant, payment)
    except ValueError as error:  # a variant no longer configured
        raise Http404 from error
    session = provider.session(payment) if isinstance(provider, FlinksProvider) else None
    if session is None:
        raise Http404
    follow(session)
    return render(
        request,
        "flinks_payments/checkout.html",
        {"payment": payment, "session": session, "success_url": payment.get_process_url()},
    )
