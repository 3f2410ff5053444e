"""A production-like Django site for ``scripts/package-smoke.sh``.

The script copies this package next to a fresh virtualenv holding only the built wheel (with the ``example``
extra for a real task engine), so what is tested is the wheel as a shop installs it, never this source tree.
"""
