"""The checkout form: who pays (the Flinks payor), and in sandbox mode which test persona runs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

SCENARIOS = [
    ("Happy1", _("Happy1: success")),
    ("Happy2", _("Happy2: reduced guarantee offer, then success")),
    ("Happy3", _("Happy3: French, success")),
    ("Unhappy1", _("Unhappy1: always fails")),
]


class CheckoutForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=60, initial="John")
    last_name = forms.CharField(label=_("Last name"), max_length=60, initial="Doe")
    email = forms.EmailField(label=_("Email"), initial="john@example.com")
    # Stripe asks for the same before it sends a recovery email: the payer's say-so, never assumed.
    recovery_consent = forms.BooleanField(
        label=_("Remind me once by email if I leave before paying"), required=False, initial=False
    )
    scenario = forms.ChoiceField(
        label=_("Sandbox scenario"), choices=SCENARIOS, initial="Happy1", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not getattr(settings, "SHOP_SANDBOX_SCENARIOS", True):
            del self.fields["scenario"]

    def payor(self) -> dict[str, str]:
        data = self.cleaned_data
        return {"firstName": data["first_name"], "lastName": data["last_name"], "email": data["email"]}
