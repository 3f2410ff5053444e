"""The test settings behind gunicorn, for the multiprocess metrics test (``DJANGO_SETTINGS_MODULE`` from the env)."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
