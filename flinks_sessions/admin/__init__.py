"""The app's admin, one module per model; ``admin.autodiscover()`` imports this package, which registers them.

- ``sessions``: PaymentSession (badges, filters, the Cancel and Sync actions, the Cancel button, audit trail).
- ``webhooks``: WebhookDelivery (the read-only delivery log), registered here once that module exists.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from flinks_sessions.admin import sessions

__all__ = ["sessions"]

# WebhookDelivery's admin lives in flinks_sessions/admin/webhooks.py (the webhook receiver's work). Until that
# module is written there is nothing to register; once it exists, importing it registers its ModelAdmin.
if find_spec("flinks_sessions.admin.webhooks") is not None:
    webhooks = import_module("flinks_sessions.admin.webhooks")
    __all__ += ["webhooks"]
