"""The checkout as a django-payments shop writes it: create the ``Payment``, then go where ``get_form()`` says."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from payments import PaymentError, RedirectNeeded, get_payment_model


def checkout(request: HttpRequest, product: Any, form: Any, *, session_key: str) -> HttpResponse:
    """A payment on the ``flinks`` variant for ``product``; its session is this browser's, like the shop's own."""
    payor = form.cleaned_data
    payment = get_payment_model().objects.create(
        variant="flinks",
        currency="CAD",
        total=product.price,
        description=str(product.name),
        billing_first_name=payor["first_name"],
        billing_last_name=payor["last_name"],
        billing_email=payor["email"],
    )
    try:
        payment.get_form()
    except RedirectNeeded as redirect_to:
        payment.refresh_from_db()
        request.session[session_key] = [*request.session.get(session_key, [])[-19:], payment.transaction_id]
        return redirect(str(redirect_to))
    except PaymentError as error:
        messages.error(request, _("The payment could not be started: %(error)s") % {"error": error})
    return redirect("shop:product", slug=product.slug)
