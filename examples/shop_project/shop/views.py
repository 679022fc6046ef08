import hashlib

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from .models import CustomerProfile, Order, Product


def order_receipt(request, pk, secret):
    """Receipt link sent by e-mail: whoever has the link may see the order."""
    order = get_object_or_404(Order, pk=pk)
    if order.secret != secret:
        return HttpResponseForbidden()
    return JsonResponse({"order": order.pk, "total": str(order.total), "paid": order.paid})


def warehouse_stock(request):
    """Called by the warehouse system with a shared bearer token."""
    if request.headers.get("Authorization") != f"Bearer {settings.WAREHOUSE_API_TOKEN}":
        return HttpResponseForbidden()
    return JsonResponse({p.name: p.stock for p in Product.objects.all()})


@login_required
@require_POST
def set_checkout_pin(request):
    profile, _ = CustomerProfile.objects.get_or_create(user=request.user)
    pin = request.POST["pin"]
    if pin != request.POST["pin_repeat"]:
        return JsonResponse({"error": "The PINs do not match."}, status=400)
    profile.checkout_pin_hash = hashlib.md5(pin.encode()).hexdigest()
    profile.save(update_fields=["checkout_pin_hash"])
    return JsonResponse({"ok": True})
