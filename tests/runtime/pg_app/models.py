"""The table the PostgreSQL claims read, lock and write."""

from django.db import models


class Stock(models.Model):
    """A product's stock level: the row that read-modify-write code decrements."""

    name = models.CharField(max_length=100)
    quantity = models.IntegerField()

    class Meta:
        app_label = "pg_app"
