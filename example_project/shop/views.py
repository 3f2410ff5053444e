"""The shop's pages. The payment part is three calls: ``start_session``, the checkout tag, ``sync_session``;
``restart_session`` when the shopper starts again from the outcome page.

A browser may only see the payment sessions it started (their ids are kept in its Django session) and their
successors, which is how a real shop would tie a session to an order and a customer. The pages that show a
payment are ``never_cache``: Back must never show a stale copy of a payment that has ended.
"""

from __future__ import annotations

import contextlib
import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from example_project.shop.catalog import PRODUCTS, Product
from example_project.shop.forms import CheckoutForm
from flinks_sessions import services
from flinks_sessions.conf import get_settings
from flinks_sessions.exceptions import FlinksError, RestartError
from flinks_sessions.models import PaymentSession, RecoveryNotice
from flinks_sessions.sandbox.scenarios import SANDBOX_SCENARIO_OPTION
from flinks_sessions.templatetags.flinks_sessions import origin_of

SESSION_KEY = "shop_payment_sessions"
# How far back a successor's chain is followed to the session this browser started.
MAX_RESTARTS = 20


def strict_csp(response: HttpResponse) -> HttpResponse:
    """A strict Content-Security-Policy: the checkout tag needs no inline script, only the hosted page's frame."""
    frames = origin_of(get_settings().account().hosted_page_base)
    response["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src {frames}; "
        "connect-src 'self'; base-uri 'none'; form-action 'self' " + frames
    )
    return response


def _product(slug: str) -> Product:
    try:
        return PRODUCTS[slug]
    except KeyError:
        raise Http404(_("No such product.")) from None


def _own_session(request: HttpRequest, session_id: uuid.UUID) -> PaymentSession:
    """The session if this browser started it, or started one it replaces ("Start again" on the page)."""
    owned = set(request.session.get(SESSION_KEY, []))
    session = PaymentSession.objects.filter(session_id=session_id).first()
    if session is None:
        raise Http404(_("No such payment."))
    current: PaymentSession | None = session
    for _hop in range(MAX_RESTARTS):
        if current is None:
            break
        if str(current.session_id) in owned:
            return session
        current = current.restarted_from
    raise Http404(_("No such payment."))


# The shop's icon (a maple leaf on the shop's red): served at /favicon.ico, where every browser asks for one, so
# neither the shop's pages nor the admin's leave a "Not Found: /favicon.ico" in the log.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
    'fill="#7f1d1d"/><path fill="#fff" d="M16 4l2.5 5 4-1.5-1 5 4.5 1-3.5 3.5 1.5 2.5-5-.5v6h-6v-6l-5 '
    '.5 1.5-2.5L6 13.5l4.5-1-1-5 4 1.5z"/></svg>'
)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    return strict_csp(render(request, "shop/products.html", {"products": PRODUCTS.values()}))


@require_GET
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return strict_csp(
        render(request, "shop/product.html", {"product": _product(slug), "form": CheckoutForm()})
    )


@require_POST
def checkout(request: HttpRequest, slug: str) -> HttpResponse:
    """Start a Flinks Pay session for the product, then show it (POST, redirect, GET: reloads start nothing)."""
    product = _product(slug)
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        return strict_csp(
            render(request, "shop/product.html", {"product": product, "form": form}, status=400)
        )
    if getattr(settings, "SHOP_CHECKOUT", "sessions") == "django-payments":  # the second example
        from example_project.shop_payments.views import checkout as checkout_through_django_payments

        return checkout_through_django_payments(request, product, form, session_key=SESSION_KEY)
    # The order's own reference; the sandbox persona (Happy2...) travels beside it, never as the reference.
    scenario = form.cleaned_data.get("scenario")
    try:
        session = services.start_session(
            amount=product.price,
            reference_id=f"order-{uuid.uuid4().hex[:12]}",
            options={SANDBOX_SCENARIO_OPTION: scenario} if scenario else None,
            payor=form.payor(),
            product=product.flinks_product or getattr(settings, "SHOP_PRODUCT", "eft"),
            owner=request.user if request.user.is_authenticated else None,
            # The reminder's language is the one the payer shops in (services.recovery_email).
            metadata={
                "product": product.slug,
                "language": translation.get_language() or settings.LANGUAGE_CODE,
            },
            recovery_consent=form.cleaned_data["recovery_consent"],
        )
    except (ValidationError, FlinksError) as error:
        messages.error(request, _("The payment could not be started: %(error)s") % {"error": error})
        return redirect("shop:product", slug=slug)
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, [])[-19:], str(session.session_id)]
    return redirect("shop:pay", session_id=session.session_id)


@never_cache
@require_GET
def pay(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """The checkout page: the hosted flow in an iframe; leaving the page cancels the session.

    A session that has ended shows its outcome and "Start again" in place of the iframe (the checkout tag does
    it); a completed one goes to the thank-you page.
    """
    session = _own_session(request, session_id)
    if session.status == PaymentSession.Status.COMPLETED:
        return redirect("shop:thanks", session_id=session_id)
    product = PRODUCTS.get(session.metadata.get("product", ""))
    context = {
        "session": session,
        "product": product,
        "thanks_url": reverse("shop:thanks", kwargs={"session_id": session_id}),
    }
    return strict_csp(render(request, "shop/pay.html", context))


@never_cache
@require_GET
def thanks(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """The outcome. A browser event is only a hint (docs/flinks-api.md): ask Flinks when we do not know yet."""
    session = _own_session(request, session_id)
    if not session.is_terminal:
        with contextlib.suppress(FlinksError):  # show what is stored; the webhook or the sync sweep catch up
            services.sync_session(session)
        session.refresh_from_db()
    product = PRODUCTS.get(session.metadata.get("product", ""))
    return strict_csp(render(request, "shop/thanks.html", {"session": session, "product": product}))


@require_POST
def start_again(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """The outcome page's "Try again": the same order in a new session, nothing typed twice."""
    session = _own_session(request, session_id)
    try:
        result = services.restart_session(session, source="api", reason="try again from the outcome page")
    except (RestartError, ValidationError):
        result = None
    if result is None or result.outcome not in (
        services.RestartOutcome.CREATED,
        services.RestartOutcome.EXISTED,
    ):
        messages.error(request, _("The payment could not be started again. Please try again in a moment."))
        return redirect("shop:thanks", session_id=session_id)
    return redirect("shop:pay", session_id=result.session.session_id)


@never_cache
@require_GET
def recovered(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """Where the recovery email's Continue leads (``RECOVERY_CHECKOUT = "shop:recovered"``), often in another
    browser than the checkout's: the session its link made becomes this browser's, then its checkout page shows.

    Only a session started again by a used recovery link qualifies: its id came from the link's redirect.
    """
    session = PaymentSession.objects.filter(session_id=session_id, restarted_from__isnull=False).first()
    if (
        session is None
        or not RecoveryNotice.objects.filter(session=session.restarted_from, opened_at__isnull=False).exists()
    ):
        raise Http404(_("No such payment."))
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, [])[-19:], str(session.session_id)]
    return redirect("shop:pay", session_id=session.session_id)
