from __future__ import annotations

import re

from flake8_django_safety._lazy import cst
from flake8_django_safety.orm import (
    SkipsRolledBackWrites,
    describe_hooks,
    field_names_argument,
    model_of_queryset,
    names_validated_model,
    resolve_class,
)
from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.rule import FileContext, Rule
from flake8_django_safety.settings import Settings

_BULK = frozenset({"bulk_create", "bulk_update", "abulk_create", "abulk_update"})
_BULK_CALL = re.compile(r"((?<![\w.])(?:[A-Za-z_]\w*\.)*[A-Z]\w*)\s*\.\s*\w+\s*\..*?a?bulk_(?:create|update)\(")


class BulkWriteSkipsValidation(SkipsRolledBackWrites, Rule):
    """
    ## What it does
    Flags `bulk_create(...)` and `bulk_update(...)` (and their async forms) on
    the manager or a queryset of a model that has validation `full_clean()`
    would run: `clean()`, `clean_fields()`, `validate_unique()`,
    `validate_constraints()` or a field with `validators=`, on the model or
    inherited from a base in another file or app.

    ## Why is this bad?
    Bulk writes go straight to the database: they call neither `full_clean()`
    nor the model's own `save()`. Even a model that validates itself in
    `save()` is not protected here, so rows the rest of the code assumes
    impossible can be written in bulk.

    ## Known problems
    Off by default: on 19 real projects (pretix, netbox, django-oscar,
    django-allauth, django-cms, wagtail, ...) 4 of 8 reports (50%, three of
    them narrow) were true positives; the others wrote constant flags,
    digests or rows already checked by a guard on the path
    (docs/precision.md).
    Enable it with `--extend-select=DJS203`.

    `bulk_update(objs, ["a", "b"])` with literal fields counts only the hooks
    that read those fields. The rule stays silent when a `full_clean()` or a
    form's `is_valid()` call appears earlier in the same function (it assumes
    the objects were validated there), inside a block that is rolled back,
    for models it cannot resolve to a project class, and in test modules.

    ## Example
    ```python
    from django.core.exceptions import ValidationError
    from django.db import models


    class Coupon(models.Model):
        code = models.CharField(max_length=20)
        percent = models.PositiveIntegerField()

        def clean(self):
            if self.percent > 100:
                raise ValidationError("A discount cannot exceed 100%.")


    def import_coupons(rows):
        Coupon.objects.bulk_create(Coupon(code=c, percent=p) for c, p in rows)
    ```

    ## Use instead
    ```python
    from django.core.exceptions import ValidationError
    from django.db import models


    class Coupon(models.Model):
        code = models.CharField(max_length=20)
        percent = models.PositiveIntegerField()

        def clean(self):
            if self.percent > 100:
                raise ValidationError("A discount cannot exceed 100%.")


    def import_coupons(rows):
        coupons = [Coupon(code=c, percent=p) for c, p in rows]
        for coupon in coupons:
            coupon.full_clean()
        Coupon.objects.bulk_create(coupons)
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## References
    - [Django: `bulk_create`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#bulk-create)
    - [Django: validating objects](https://docs.djangoproject.com/en/stable/ref/models/instances/#validating-objects)
    """

    code = "DJS203"
    default_enabled = False
    name = "bulk-write-skips-validation"
    message = "Bulk write `{call}` skips `full_clean()` and `save()`, and with them {hooks}; validate each object first"
    options = ("test_patterns", "cache_dir")

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        #: Per function: whether ``full_clean()`` has been called so far.
        self.validated: list[bool] = [False]

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return not settings.is_test_file(filename)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return (
            "bulk_" in text.text
            and any(_BULK_CALL.search(line) for line in text.lines_with(("bulk_create(", "bulk_update(")))
            and names_validated_model(text, settings)
        )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.validated.append(False)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self.validated.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        if func.attr.value in ("full_clean", "is_valid"):
            self.validated[-1] = True  # objects built from a validated form, or cleaned
            return
        if func.attr.value not in _BULK or self.validated[-1] or self.rolled_back.active:
            return
        found = model_of_queryset(func.value)
        if found is None:
            return
        ref = resolve_class(self.context, found[0])
        project = self.context.project
        if ref is None or project is None or not project.is_model(ref):
            return
        hooks = project.validation_hooks(ref, field_names_argument(node, "fields", 1) if "update" in func.attr.value else None)
        if not hooks:
            return
        call = f"{self.context.code_for(func)}()"
        self.report(node, self.message.format(call=call, hooks=describe_hooks(hooks)))

