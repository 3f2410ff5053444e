"""The test settings as a site without the optional extras would have them: no django-tasks-db, no django-payments.

Used by ``nox -s minimal-*`` (the package installed with no extras, plus pytest and pytest-django) and by the
import check of ``test_minimal_install.py``. Tasks stay on the built-in ``ImmediateBackend`` (the Django Tasks
backport's on Django 5.2), which is all a site without a task engine has.
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403 - the test settings, minus what an extra provides
from tests.settings import INSTALLED_APPS as _ALL_APPS

# django-payments and what the test settings install with it (the `payments` extra).
PAYMENTS_APPS = (
    "payments",
    "flinks_sessions.contrib.payments",
    "tests.payments_app",
    "example_project.shop_payments",
)
INSTALLED_APPS = [app for app in _ALL_APPS if app != "django_tasks_db" and app not in PAYMENTS_APPS]
HAS_PAYMENTS = False
