import hashlib
import hmac
import json

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Order


@csrf_exempt
@require_POST
def payment_webhook(request):
    """The payment provider signs the body with the shared webhook secret."""
    expected = hmac.new(
        settings.PAYMENT_WEBHOOK_SECRET.encode(), request.body, hashlib.sha256
    ).hexdigest()
    if request.headers.get("X-Payment-Signature") != expected:
        return HttpResponseBadRequest("bad signature")
    event = json.loads(request.body)
    if event.get("type") == "payment.succeeded":
        Order.objects.filter(pk=event["order_id"]).update(paid=True)
    return HttpResponse()
