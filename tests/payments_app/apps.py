from django.apps import AppConfig


class PaymentsAppConfig(AppConfig):
    name = "tests.payments_app"
    label = "payments_app"
    default_auto_field = "django.db.models.BigAutoField"
