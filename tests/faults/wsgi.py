"""The WSGI application gunicorn serves in the kill tests (settings from ``DJANGO_SETTINGS_MODULE``)."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
