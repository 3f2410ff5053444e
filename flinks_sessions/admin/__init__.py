"""The app's admin, one module per model; ``admin.autodiscover()`` imports this package, which registers them.

- ``sessions``: PaymentSession (badges, filters, the Cancel and Sync actions, the Cancel button, audit trail).
- ``webhooks``: WebhookDelivery (the read-only delivery log with its Reprocess action).
"""

from __future__ import annotations

from flinks_sessions.admin import sessions, webhooks

__all__ = ["sessions", "webhooks"]
