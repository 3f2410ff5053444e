"""The app's admin, one module per model; ``admin.autodiscover()`` imports this package, which registers them.

- ``sessions``: PaymentSession (badges, filters, the Cancel and Sync actions, the Cancel button, audit trail).
- ``webhooks``: WebhookDelivery (the read-only delivery log with its Reprocess action).
- ``audit``: SessionEvent (the bounded audit-trail inline, and the full trail's own read-only list).

What keeps them fast at a million rows lives beside them: ``pagination`` (no full count), ``search`` (lookups an
index serves), ``filters`` (every list filter, none listing by a scan), ``dates`` (a date hierarchy without a scan).
"""

from __future__ import annotations

from flinks_sessions.admin import audit, sessions, webhooks

__all__ = ["audit", "sessions", "webhooks"]
