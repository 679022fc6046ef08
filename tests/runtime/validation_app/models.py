from django.core.exceptions import ValidationError
from django.db import models


class Coupon(models.Model):
    code = models.CharField(max_length=20)
    percent = models.PositiveIntegerField()

    class Meta:
        app_label = "validation_app"

    def clean(self):
        if self.percent > 100:
            raise ValidationError({"percent": "A discount cannot exceed 100%."})
