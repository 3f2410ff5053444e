"""The django-payments bridge: when Django starts, the payment starts following its session's signals."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlinksPaymentsConfig(AppConfig):
    name = "flinks_sessions.contrib.payments"
    label = "flinks_payments"
    verbose_name = _("Flinks Pay for django-payments")

    def ready(self) -> None:
        from flinks_sessions.contrib.payments import follow

        follow.connect()
