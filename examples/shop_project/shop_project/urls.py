from django.urls import path

from shop import views, webhooks

urlpatterns = [
    path("orders/<int:pk>/receipt/<str:secret>/", views.order_receipt, name="order-receipt"),
    path("warehouse/stock/", views.warehouse_stock, name="warehouse-stock"),
    path("webhooks/payment/", webhooks.payment_webhook, name="payment-webhook"),
    path("account/pin/", views.set_checkout_pin, name="set-checkout-pin"),
]
