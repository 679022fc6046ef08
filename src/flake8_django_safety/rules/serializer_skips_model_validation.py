from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.orm import is_model_serializer_base, model_checks_called
from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.project.facts import meta_name
from flake8_django_safety.rule import Rule
from flake8_django_safety.settings import Settings

if TYPE_CHECKING:
    from flake8_django_safety.project import ClassRef, ModuleFacts, ProjectIndex

_WRITE_METHODS = frozenset({"validate", "create", "update"})


class SerializerSkipsModelValidation(Rule):
    """
    ## What it does
    Flags a Django REST framework `ModelSerializer` (or a subclass such as
    `HyperlinkedModelSerializer`, also through project base classes) whose
    `Meta.model` has validation only `full_clean()` runs — `clean()`,
    `clean_fields()`, `validate_unique()`, `validate_constraints()` — and none
    of whose `validate()`, `create()` or `update()` calls `full_clean()` or
    `clean()`. Reported on the `model =` line of `Meta`.

    ## Why is this bad?
    Unlike a `ModelForm`, a DRF serializer never calls the model's
    `full_clean()`: it copies field validators, but the model's `clean()` does
    not run. Every write through the API bypasses the invariants the model
    declares, while the same change made in the admin is rejected.

    ## Known problems
    Off by default: on 19 real projects (pretix, netbox, django-oscar,
    django-allauth, django-cms, wagtail, ...) 5 of 6 reports (83%) were true
    positives; the other's `clean()` only repeated the range its
    `PositiveIntegerField` already enforces (docs/precision.md).
    Enable it with `--extend-select=DJS204`.

    Silent when the serializer (or a project base) has its own `validate()`
    that can raise: object-level validation written by hand, whose
    completeness the rule cannot judge. Silent when it overrides
    `to_internal_value()` without `create()`/`update()` (input becomes a
    lookup, not a write), when `Meta.fields` less `read_only_fields` leaves
    out every field the model's hooks read, and for hooks made only of model
    checks that the module's `validate*()` methods call themselves (a parent
    serializer validating its nested rows). Models whose own `save()` calls
    `self.full_clean()` are not reported, nor are serializers whose model or
    bases cannot be resolved to project classes. Field `validators=` alone do
    not make a report: `ModelSerializer` copies them onto its fields. A
    library base whose name ends in `ModelSerializer` counts as one.

    ## Example
    ```python
    from django.core.exceptions import ValidationError
    from django.db import models
    from rest_framework import serializers


    class Booking(models.Model):
        starts = models.DateTimeField()
        ends = models.DateTimeField()

        def clean(self):
            if self.ends <= self.starts:
                raise ValidationError("A booking must end after it starts.")


    class BookingSerializer(serializers.ModelSerializer):
        class Meta:
            model = Booking
            fields = ["starts", "ends"]
    ```

    ## Use instead
    ```python
    from django.core.exceptions import ValidationError
    from django.db import models
    from rest_framework import serializers


    class Booking(models.Model):
        starts = models.DateTimeField()
        ends = models.DateTimeField()

        def clean(self):
            if self.ends <= self.starts:
                raise ValidationError("A booking must end after it starts.")


    class BookingSerializer(serializers.ModelSerializer):
        class Meta:
            model = Booking
            fields = ["starts", "ends"]

        def validate(self, attrs):
            instance = Booking(**attrs)
            try:
                instance.clean()
            except ValidationError as error:
                raise serializers.ValidationError(error.messages) from error
            return attrs
    ```

    ## Options
    - `django-safety-cache-dir`

    ## References
    - [DRF: differences between ModelSerializer validation and ModelForm](https://www.django-rest-framework.org/community/3.0-announcement/#differences-between-modelserializer-validation-and-modelform)
    - [Django: validating objects](https://docs.djangoproject.com/en/stable/ref/models/instances/#validating-objects)
    """

    code = "DJS204"
    default_enabled = False
    name = "serializer-skips-model-validation"
    message = "Serializer `{serializer}` writes `{model}` without its {hooks}; call it from `validate()`"
    options = ("cache_dir",)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        # The whole decision is made on the stdlib-ast facts; libcst parses only
        # files with something to report (for the position of the report).
        if "Serializer" not in text.text or not text.filename:
            return False
        from flake8_django_safety.project import index_for_file

        project = index_for_file(text.filename, settings.index_cache_dir)
        facts = None if project is None else project.use_source(text.filename, text.text)
        if project is None or facts is None:
            return False
        return any(_judge(project, facts, name) is not None for name in facts.classes)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        project = self.context.project
        module_name = self.context.module_name
        facts = None if project is None or module_name is None else project.module(module_name)
        if project is None or facts is None or not node.bases:
            return
        found = _judge(project, facts, node.name.value)
        if found is None:
            return
        model_ref, hooks = found
        target = _meta_model_line(node) or node
        self.report(
            target,
            self.message.format(
                serializer=node.name.value,
                model=model_ref.facts.name,
                hooks=", ".join(f"`{hook}`" for hook in hooks[:3]),
            ),
        )


def _judge(project: ProjectIndex, module: ModuleFacts, name: str) -> tuple[ClassRef, list[str]] | None:
    """(model, hooks skipped) when class ``name`` of ``module`` is a model
    serializer that writes its model without the model's validation."""
    ref = project.resolve_class(f"{module.name}.{name}")
    if ref is None or not ref.facts.bases:
        return None
    ancestry = list(project.ancestry(ref))
    if not any(isinstance(item, str) and is_model_serializer_base(item) for item in ancestry):
        return None
    if any(isinstance(item, str) and project.is_project_name(item) for item in ancestry):
        return None  # a project base we could not read may validate
    classes = [item for item in ancestry if not isinstance(item, str)]
    for item in classes:
        if item.facts.methods_calling_full_clean & _WRITE_METHODS:
            return None
        if "to_internal_value" in item.facts.methods and not item.facts.methods & {"create", "update"}:
            return None  # input turned into something else (a lookup of an existing row)
        validate = item.facts.method_facts.get("validate")
        if validate is not None and validate.may_raise:
            return None  # object-level validation written by hand: its completeness is not ours to judge
    model_ref = None
    for item in classes:  # the nearest Meta.model, own or inherited
        meta_model = meta_name(item.facts.meta.get("model"))
        if meta_model is not None:
            model_ref = project.resolve_class(item.module.qualify(meta_model))
            break
    if model_ref is None or not project.skips_validation(model_ref):
        return None
    # Field validators are copied onto the serializer's fields.
    checked = model_checks_called(project, module, model_ref)
    hooks = project.validation_hooks(
        model_ref, _serializer_fields(classes), field_validators=False, checked=checked
    )
    return (model_ref, hooks) if hooks else None


def _serializer_fields(classes: list[ClassRef]) -> frozenset[str] | None:
    """``Meta.fields`` less ``read_only_fields`` when literal; None for ``"__all__"``,
    ``exclude`` or anything computed."""
    for item in classes:
        fields = item.facts.meta.get("fields")
        if fields is None:
            continue
        if not (isinstance(fields, (list, tuple)) and all(isinstance(f, str) for f in fields)):
            return None
        read_only = item.facts.meta.get("read_only_fields") or ()
        if not isinstance(read_only, (list, tuple)):
            read_only = ()
        return frozenset(fields) - frozenset(str(f) for f in read_only)
    return None


def _meta_model_line(node: cst.ClassDef) -> cst.CSTNode | None:
    """The ``model = ...`` statement of the class's own ``Meta``."""
    for statement in node.body.body:
        if isinstance(statement, cst.ClassDef) and statement.name.value == "Meta":
            for line in statement.body.body:
                if isinstance(line, cst.SimpleStatementLine):
                    for small in line.body:
                        if (
                            isinstance(small, cst.Assign)
                            and len(small.targets) == 1
                            and isinstance(small.targets[0].target, cst.Name)
                            and small.targets[0].target.value == "model"
                        ):
                            return line
    return None
