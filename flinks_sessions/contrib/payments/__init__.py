"""Flinks Pay as a django-payments provider: ``PAYMENT_VARIANTS = {"flinks": ("...provider.FlinksProvider", {})}``.

Install the app (``"flinks_sessions.contrib.payments"`` in ``INSTALLED_APPS``) so the payment follows its
session, and include ``flinks_sessions.contrib.payments.urls`` for the checkout page. Nothing is imported here:
django-payments reads its settings when its modules load, which must wait for Django to be set up.
"""
