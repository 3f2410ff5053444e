"""The example shop plus one bench-only endpoint, served by gunicorn for ``bench/beacon.py``."""
