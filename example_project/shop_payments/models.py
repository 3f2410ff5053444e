"""The shop's concrete django-payments model (``PAYMENT_MODEL = "shop_payments.Payment"``)."""

from __future__ import annotations

from django.urls import reverse
from payments.models import BasePayment


class Payment(BasePayment):
    """After the hosted flow, the shopper lands on the shop's own outcome page for the payment's session."""

    def get_success_url(self) -> str:
        return reverse("shop:thanks", kwargs={"session_id": self.transaction_id})

    def get_failure_url(self) -> str:
        return reverse("shop:thanks", kwargs={"session_id": self.transaction_id})
