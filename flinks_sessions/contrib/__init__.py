"""Bridges to other Django apps, each an app of its own with an optional extra; nothing in the core imports them.

``flinks_sessions.contrib.payments``: a django-payments provider (``pip install "flinks-sessions[payments]"``).
"""
