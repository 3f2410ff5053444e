from __future__ import annotations

from django.urls import path

from example_project.shop import views

app_name = "shop"

urlpatterns = [
    path("", views.product_list, name="products"),
    path("products/<slug:slug>/", views.product_detail, name="product"),
    path("products/<slug:slug>/checkout/", views.checkout, name="checkout"),
    path("pay/<uuid:session_id>/", views.pay, name="pay"),
    path("pay/<uuid:session_id>/done/", views.thanks, name="thanks"),
    path("pay/<uuid:session_id>/again/", views.start_again, name="start-again"),
    path("pay/<uuid:session_id>/recovered/", views.recovered, name="recovered"),
]
