"""The browser fixtures (one chromium per module, a checkout page with a worker) for every browser test module."""

from __future__ import annotations

from tests.browser.test_exit_beacon_browser import browser, checkout

__all__ = ["browser", "checkout"]
