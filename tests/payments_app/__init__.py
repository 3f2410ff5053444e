"""A shop's concrete django-payments ``Payment`` model, for the provider's tests (``PAYMENT_MODEL``)."""
