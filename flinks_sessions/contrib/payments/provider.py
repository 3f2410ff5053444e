"""``FlinksProvider``: a django-payments provider whose payments are Flinks Pay sessions of this app.

``get_form`` starts the payment's session (or finds the one it has) and sends the shopper to the checkout page,
which shows the hosted flow with ``{% flinks_checkout %}``: the exit beacon, Start again and the status poll
work as on any checkout of the app. The payment's status then follows the session (:mod:`.follow`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from payments import PaymentError, PaymentStatus, RedirectNeeded
from payments.core import BasicProvider

from flinks_sessions.contrib.payments import calls
from flinks_sessions.contrib.payments.follow import MAX_RESTARTS, follow
from flinks_sessions.models import PaymentSession
from flinks_sessions.services import successor_of
from flinks_sessions.status import Product

FAILED = (PaymentStatus.REJECTED, PaymentStatus.CANCELLED, PaymentStatus.ERROR)


class FlinksProvider(BasicProvider):
    """Flinks Pay: EFT, Guaranteed EFT or Interac e-Transfer, in CAD.

    ``product`` is ``"eft"`` (the default), ``"geft"`` or ``"etransfer"``; ``account`` names one of
    ``FLINKS_SESSIONS["ACCOUNTS"]`` (default: the product's). ``capture=False`` is for GEFT only: the guarantee
    Flinks offers waits for the site, the payment is pre-authorized meanwhile, ``capture()`` accepts it and
    ``release()`` rejects it (set ``GUARANTEE_DECISION`` to ``"manual"`` so the app's policy leaves it alone).
    """

    def __init__(self, product: str = Product.EFT, account: str | None = None, capture: bool = True) -> None:
        if product not in Product.values:
            raise ImproperlyConfigured(f"FlinksProvider: product must be one of {', '.join(Product.values)}")
        if not capture and product != Product.GEFT:
            raise ImproperlyConfigured(
                "FlinksProvider: capture=False is the GEFT guarantee decision (product='geft')"
            )
        super().__init__(capture=capture)
        self.product = product
        self.account = account

    @property
    def captures(self) -> bool:
        """``False`` when the site decides GEFT guarantees itself (``capture()`` and ``release()``)."""
        return self._capture

    def session(self, payment: Any) -> PaymentSession | None:
        """The payment's current session, or ``None`` before ``get_form`` started one.

        That is the session it carries (or that session's successor, had the payment missed its move), else one
        started for it whose id was never stored on it.
        """
        if payment.transaction_id:
            session = PaymentSession.objects.filter(session_id=payment.transaction_id).first()
        else:
            session = (
                PaymentSession.objects.filter(reference_id=str(payment.token), session_id__isnull=False)
                .order_by("-created_at")
                .first()
            )
        for _hop in range(MAX_RESTARTS):
            successor = successor_of(session) if session is not None else None
            if successor is None:
                break
            session = successor
        return session

    def get_form(self, payment: Any, data: Any = None) -> Any:
        """Start (or find) the payment's session, then send the shopper to the checkout page."""
        if payment.currency.upper() != "CAD":
            raise PaymentError(_("Flinks Pay takes payments in Canadian dollars only."), code=400)
        session = self.session(payment)
        if session is None:
            session = calls.start(payment, product=self.product, account=self.account)
        if payment.transaction_id != str(session.session_id):
            payment.transaction_id = str(session.session_id)
            payment.save(update_fields=["transaction_id"])
        follow(session)
        raise RedirectNeeded(reverse("flinks_payments:checkout", kwargs={"token": payment.token}))

    def process_data(self, payment: Any, request: Any) -> HttpResponseRedirect:
        """Where the checkout goes once the hosted flow reports success: the shop's success or failure page."""
        session = self.session(payment)
        if session is not None:
            follow(session)
            payment.refresh_from_db()
        failed = payment.status in FAILED
        return HttpResponseRedirect(payment.get_failure_url() if failed else payment.get_success_url())

    def get_token_from_request(self, payment: Any, request: Any) -> None:
        """Flinks posts its webhooks to the app's own endpoint, never to django-payments' static callback."""
        return

    def capture(self, payment: Any, amount: Decimal | None = None) -> None:
        """Accept the GEFT guarantee: Flinks completes the session, and the payment is confirmed when it does."""
        if amount is not None and Decimal(amount) != payment.total:
            raise PaymentError(_("A guarantee is accepted for the whole amount or not at all."), code=400)
        calls.decide(self._session_of(payment), accepted=True)

    def release(self, payment: Any) -> None:
        """Reject the GEFT guarantee: Flinks fails the session (django-payments then marks the payment refunded)."""
        calls.decide(self._session_of(payment), accepted=False)

    def cancel(self, payment: Any) -> None:
        """End the session at Flinks, exactly once, however many other triggers race for it."""
        calls.cancel(self._session_of(payment))

    def refund(self, payment: Any, amount: Decimal | None = None) -> Decimal:
        raise PaymentError(
            _(
                "Flinks Pay sessions have no refund: a completed payment is returned by a transfer of its own, "
                "outside Flinks Pay."
            ),
            code=400,
        )

    def _session_of(self, payment: Any) -> PaymentSession:
        session = self.session(payment)
        if session is None:
            raise PaymentError(_("This payment has no Flinks Pay session yet."), code=404)
        return session
