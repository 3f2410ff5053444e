"""App configuration: registers the system checks, owns the shared Flinks clients, and wires the layers.

The services announce a recorded cancel intent and a guarantee offer; the task layer enqueues the cancel and
the guarantee policy's decision. Connecting the two here keeps the
services free of any import of the task layer.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _


class FlinksSessionsConfig(AppConfig):
    name = "flinks_sessions"
    verbose_name = _("Flinks payment sessions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The task modules declare every task the app enqueues in every process, workers included: an engine
        # that registers a task when it is declared (a Celery bridge) runs only the tasks it has seen declared.
        import flinks_sessions.sweeps.tasks
        import flinks_sessions.task_checks  # registers the task setup checks
        import flinks_sessions.webhooks.tasks  # noqa: F401
        from flinks_sessions import checks  # noqa: F401 - registers the checks
        from flinks_sessions.client import ClientRegistry
        from flinks_sessions.signals import cancel_requested, guarantee_offered
        from flinks_sessions.tasks import enqueue_guarantee_policy, enqueue_requested_cancel

        self.clients = ClientRegistry()
        setting_changed.connect(self._forget_clients, dispatch_uid="flinks_sessions.clients")
        cancel_requested.connect(
            enqueue_requested_cancel,
            sender=self.get_model("PaymentSession"),
            dispatch_uid="flinks_sessions.enqueue",
        )
        guarantee_offered.connect(
            enqueue_guarantee_policy,
            sender=self.get_model("PaymentSession"),
            dispatch_uid="flinks_sessions.guarantee_policy",
        )

    def _forget_clients(self, *, setting: str, **kwargs: Any) -> None:
        if setting == "FLINKS_SESSIONS":
            self.clients.clear()
