from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.crypto import get_random_string


def new_order_secret():
    return get_random_string(32)


class Product(models.Model):
    name = models.CharField(max_length=200)
    stock = models.PositiveIntegerField(default=0)

    def __str__(self):
        return self.name


class Order(models.Model):
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    secret = models.CharField(max_length=32, default=new_order_secret, editable=False)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    paid = models.BooleanField(default=False)


class CustomerProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    checkout_pin_hash = models.CharField(max_length=128, blank=True)


class ApiKey(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    label = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)


class Coupon(models.Model):
    code = models.CharField(max_length=20, unique=True)
    percent = models.PositiveIntegerField()
    valid_until = models.DateField()

    def clean(self):
        if not 0 < self.percent <= 100:
            raise ValidationError({"percent": "A discount is between 1 and 100 percent."})


class Review(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    rating = models.PositiveSmallIntegerField()
    text = models.TextField()
