"""The example shop's checkout through django-payments (``SHOP_CHECKOUT=django-payments``): a ``Payment`` per order.

The shop's product pages and thank-you page stay as they are; only the checkout creates a django-payments
``Payment`` on the ``flinks`` variant and follows ``payment.get_form()`` to the provider's checkout page.
"""
