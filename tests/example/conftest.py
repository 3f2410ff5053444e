"""The example shop's fixture for every module of these tests."""

from __future__ import annotations

from tests.example.test_example_shop import shop

__all__ = ["shop"]
