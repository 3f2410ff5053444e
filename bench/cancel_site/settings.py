"""The test suite's settings without django-payments: the bench measures the package's cancel, not a site's receivers.

With ``flinks_sessions.contrib.payments`` installed, every announced transition also runs its follower (a
transaction and two queries per signal): the site's cost, the same on every path, and not what the cancel's
ratio to its floor is about.
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

_PAYMENTS = {
    "payments",
    "flinks_sessions.contrib.payments",
    "tests.payments_app",
    "example_project.shop_payments",
}
INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in _PAYMENTS]
