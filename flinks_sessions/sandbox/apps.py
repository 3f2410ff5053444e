"""The sandbox as a development-only Django app: installing it is what gives a site ``manage.py flinks_sandbox``.

A production site leaves ``flinks_sessions.sandbox`` out of ``INSTALLED_APPS`` and so has no command that can
serve a Flinks emulator signing webhooks. The app has no models, URLs or checks; the emulator itself
(``python -m flinks_sessions.sandbox``, ``flinks_sessions.testing``) does not need Django at all.
"""

from __future__ import annotations

from django.apps import AppConfig


class FlinksSandboxAppConfig(AppConfig):
    name = "flinks_sessions.sandbox"
    label = "flinks_sandbox"
    verbose_name = "Flinks Pay sandbox (development only)"
