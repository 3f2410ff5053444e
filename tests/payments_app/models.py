"""The Payment model a django-payments shop writes: ``BasePayment`` plus where the shopper goes afterwards."""

from __future__ import annotations

from django.urls import reverse
from payments.models import BasePayment


class Payment(BasePayment):
    def get_success_url(self) -> str:
        return reverse("payment-done", kwargs={"token": self.token, "outcome": "success"})

    def get_failure_url(self) -> str:
        return reverse("payment-done", kwargs={"token": self.token, "outcome": "failure"})
