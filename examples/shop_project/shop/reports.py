"""Back-office reports: loops that load more, or less, than they use, and the sales report view."""

from django.db import connection
from django.db.models import Avg, F, Window
from django.db.models.functions import RowNumber

from .models import Product, Review


def review_digest():
    # DJS402: one query per review for its product.
    return [(review.product.name, review.rating) for review in Review.objects.order_by("-id")[:50]]


def review_teasers():
    # DJS403: `text` was left out by only(), so each row reads it with a query of its own.
    return [review.text[:80] for review in Review.objects.only("rating")]


def review_counts():
    # Fine: one query for the products and one for all their reviews.
    return {product.name: product.reviews.count() for product in Product.objects.prefetch_related("reviews")}


def stock_feed():
    # DJS501: the rows of values() copied into new dicts only to rename keys;
    # `.values("id", title=F("name"), available=F("stock"))` returns them already named.
    rows = Product.objects.values("id", "name", "stock")
    return [{"id": row["id"], "title": row["name"], "available": row["stock"]} for row in rows]


def reviews_against_product_average():
    # DJS601: a second query and a join in Python; the message's
    # `.annotate(avg=Window(Avg("rating"), partition_by=F("product")))` puts the average on each review.
    averages = dict(Review.objects.values("product").annotate(avg=Avg("rating")).values_list("product", "avg"))
    return [(review.pk, review.rating - averages[review.product_id]) for review in Review.objects.order_by("-id")[:50]]


def top_reviews_per_product():
    # DJS602 when the project still supports Django 4.1 (--django-target-version=4.1):
    # filtering on a window annotation raises NotSupportedError before Django 4.2.
    ranked = Review.objects.annotate(rank=Window(RowNumber(), partition_by=F("product"), order_by=F("rating").desc()))
    return ranked.filter(rank__lte=3)


def refresh_sales_report():
    # DJS801: a plain refresh locks the view, so every page that reads the report
    # waits until the refresh ends; CONCURRENTLY keeps serving the old rows meanwhile.
    with connection.cursor() as cursor:
        cursor.execute("REFRESH MATERIALIZED VIEW shop_sales_report")
