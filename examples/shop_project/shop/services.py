"""Issuing API keys to merchants' integrations, and coupons to marketing."""

import datetime

import hashlib
import secrets

from .models import ApiKey, Coupon


def issue_api_key(owner, label):
    """Create a key; only its digest is stored, the raw key is shown once."""
    raw_key_token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(raw_key_token.encode()).hexdigest()
    ApiKey.objects.create(owner=owner, label=label, digest=digest)
    return raw_key_token


def find_api_key(presented_token):
    digest = hashlib.sha256(presented_token.encode()).hexdigest()
    return ApiKey.objects.filter(digest=digest).select_related("owner").first()


def issue_campaign_coupon(code, percent, valid_until):
    """Called by the marketing import job with values from a spreadsheet."""
    coupon = Coupon.objects.create(code=code, percent=percent, valid_until=valid_until)
    return coupon


def import_coupons(rows):
    """Bulk import from the partner feed: (code, percent, valid_until) rows."""
    Coupon.objects.bulk_create(
        Coupon(code=code, percent=percent, valid_until=valid_until)
        for code, percent, valid_until in rows
    )


def extend_coupon(code, days):
    """Support agents extend a coupon for an unhappy customer."""
    coupon = Coupon.objects.get(code=code)
    coupon.valid_until += datetime.timedelta(days=days)
    coupon.percent += 5
    coupon.save(update_fields=["valid_until", "percent"])
