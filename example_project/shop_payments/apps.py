from django.apps import AppConfig


class ShopPaymentsConfig(AppConfig):
    name = "example_project.shop_payments"
    label = "shop_payments"
    default_auto_field = "django.db.models.BigAutoField"
