from __future__ import annotations

import re
from typing import TYPE_CHECKING

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
from flake8_django_safety.project.facts import VALIDATION_HOOKS
from flake8_django_safety.settings import Settings

if TYPE_CHECKING:
    from flake8_django_safety.project import ClassRef, ProjectIndex

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
    Off by default: on 50 real code bases (pretix, netbox, django-cms,
    wagtail, nautobot, weblate and 44 more libraries and applications) 9 of
    10 reports (90%, seven of them narrow) were true positives; the false one
    moves modules past an edit lock on purpose (docs/precision.md).
    Enable it with `--extend-select=DJS203`.

    `bulk_update(objs, ["a", "b"])` with literal fields counts only the hooks
    that read those fields, and is silent when every field is one the model's
    own validation hooks assign themselves (`self.parent = self.get_parent()`
    in `clean()`: derived data that the code writing it recomputes).
    `bulk_create()` of objects built right there, `[Model(a=..., b=...) for
    ...]` (or a local bound once to such a list), counts only the hooks that
    read the keywords passed; the other fields keep their defaults. A
    `GenericForeignKey` keyword counts as unknown fields.

    Narrower than the catalog's definition: bulk writes inside a method of a
    Django model class (or model mixin) and inside `@receiver` functions are
    not reported. There the model maintains rows it derives from its own,
    saved state (permissions copied from existing rows, parents recomputed,
    notifications for the instance just saved); on real code 8 of the 9
    such reports were false and the ninth a narrow case
    (docs/precision.md). The rule also stays silent when a `full_clean()`
    or a form's `is_valid()` call appears earlier in the same function (it
    assumes the objects were validated there), inside a block that is rolled
    back, for models it cannot resolve to a project class, and in test
    modules.

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
        #: The functions the visitor is in, innermost last.
        self.functions: list[cst.FunctionDef] = []
        #: The classes the visitor is in, outermost first.
        self.classes: list[str] = []
        #: How many ``@receiver(...)`` functions the visitor is in.
        self.receivers = 0

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

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()

    def _in_model_class(self) -> bool:
        """Inside a method of a Django model class (or a model mixin) of the project."""
        project, module = self.context.project, self.context.module_name
        if not self.classes or project is None or module is None:
            return False
        ref = project.resolve_class(f"{module}.{self.classes[0]}")
        return ref is not None and (
            project.is_model(ref)
            or any(f.field_class.startswith("django.db.models.") for f in ref.facts.fields)
        )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.validated.append(False)
        self.functions.append(node)
        if any(_decorator_name(d.decorator) == "receiver" for d in node.decorators):
            self.receivers += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self.validated.pop()
        self.functions.pop()
        if any(_decorator_name(d.decorator) == "receiver" for d in original_node.decorators):
            self.receivers -= 1

    def _fields_built(self, objects: cst.BaseExpression | None, model: str) -> frozenset[str] | None:
        """The fields set on objects that ``bulk_create()`` receives when they are
        built right there, ``[Model(a=..., b=...) for ...]``, or in a local bound
        once to such a list in the same function; None when unknown. Fields left
        out keep their defaults."""
        if isinstance(objects, cst.Name) and self.functions:
            bound = _bindings(self.functions[-1], objects.value)
            if len(bound) != 1:
                return None
            objects = bound[0]
        return _constructor_keywords(objects, model)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        if func.attr.value in ("full_clean", "is_valid"):
            self.validated[-1] = True  # objects built from a validated form, or cleaned
            return
        if func.attr.value not in _BULK or self.validated[-1] or self.rolled_back.active:
            return
        if self.receivers or self._in_model_class():
            return  # the model's own bookkeeping, rows derived from a saved instance
        found = model_of_queryset(func.value)
        if found is None:
            return
        ref = resolve_class(self.context, found[0])
        project = self.context.project
        if ref is None or project is None or not project.is_model(ref):
            return
        if "update" in func.attr.value:
            fields = field_names_argument(node, "fields", 1)
            if fields is not None:
                fields = fields - _derived_by_hooks(project, ref)
                if not fields:
                    return  # only fields the model's own clean() computes: the write maintains them
        else:
            fields = self._fields_built(node.args[0].value if node.args else None, ref.facts.name)
            if fields is not None and fields & _generic_relations(project, ref):
                fields = None  # ``object=`` sets fields of other names
        hooks = project.validation_hooks(ref, fields)
        if not hooks:
            return
        call = f"{self.context.code_for(func)}()"
        self.report(node, self.message.format(call=call, hooks=describe_hooks(hooks)))



def _derived_by_hooks(project: ProjectIndex, ref: ClassRef) -> frozenset[str]:
    """Fields the model's validation hooks assign themselves (``self.parent =
    self.get_parent()`` in ``clean()``): derived data, which code that writes only
    them computes the same way."""
    derived: set[str] = set()
    for hook in sorted(VALIDATION_HOOKS):
        written = project.writes(ref, hook)
        if written:
            derived |= written
    return frozenset(derived)


def _constructor_keywords(objects: cst.BaseExpression | None, model: str) -> frozenset[str] | None:
    """Keywords of the constructor calls that build every object of ``objects``:
    a list, tuple or set display, a comprehension or a generator of ``Model(...)``
    calls (the model's own constructor) with keyword arguments only."""
    if isinstance(objects, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
        calls = [objects.elt]
    elif isinstance(objects, (cst.List, cst.Tuple, cst.Set)) and objects.elements:
        calls = [element.value for element in objects.elements]
    else:
        return None
    names: set[str] = set()
    for call in calls:
        func = call.func if isinstance(call, cst.Call) else None
        if not (isinstance(func, cst.Name) and func.value == model) and not (
            isinstance(func, cst.Attribute) and func.attr.value == model
        ):
            return None
        for arg in call.args:
            if arg.keyword is None or arg.star:
                return None
            names.add(arg.keyword.value)
    return frozenset(names)


def _bindings(function: cst.FunctionDef, name: str) -> list[cst.BaseExpression]:
    """Every value ``name`` is bound to in ``function`` (simple assignments); a
    binding of another kind (augmented, loop target, ``with``, a call on the
    name that may append) makes the answer unknown (two entries)."""
    found: list[cst.BaseExpression] = []
    unknown: list[cst.BaseExpression] = []

    class Visitor(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name) and target.target.value == name:
                    found.append(node.value)
                elif name in {n.value for n in _target_names(target.target)} or (
                    isinstance(target.target, cst.Subscript)
                    and isinstance(target.target.value, cst.Name)
                    and target.target.value.value == name
                ):
                    unknown.append(node.value)  # unpacked into, or an item replaced

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if isinstance(node.target, cst.Name) and node.target.value == name:
                unknown.append(node.value)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if isinstance(node.target, cst.Name) and node.target.value == name and node.value is not None:
                found.append(node.value)

        def visit_For(self, node: cst.For) -> None:
            if name in {n.value for n in _target_names(node.target)}:
                unknown.append(node.iter)

        def visit_Attribute(self, node: cst.Attribute) -> None:
            if isinstance(node.value, cst.Name) and node.value.value == name and node.attr.value in (
                "append", "extend", "insert", "__setitem__", "add", "update"
            ):
                unknown.append(node)

        def visit_Param(self, node: cst.Param) -> None:
            if node.name.value == name:
                unknown.append(node.name)

    function.visit(Visitor())
    return found + unknown + unknown  # anything unknown: never exactly one binding


def _target_names(target: cst.BaseExpression) -> list[cst.Name]:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for element in target.elements for n in _target_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _generic_relations(project: ProjectIndex, ref: ClassRef) -> frozenset[str]:
    """The model's ``GenericForeignKey`` attributes, which set two fields of other names."""
    return frozenset(
        f.name
        for item in project.ancestry(ref)
        if not isinstance(item, str)
        for f in item.facts.fields
        if f.field_class.rpartition(".")[2] == "GenericForeignKey"
    )


def _decorator_name(node: cst.BaseExpression) -> str | None:
    """``receiver`` for ``@receiver(post_save)`` and ``@dispatch.receiver(...)``."""
    if isinstance(node, cst.Call):
        node = node.func
    if isinstance(node, cst.Attribute):
        return node.attr.value
    if isinstance(node, cst.Name):
        return node.value
    return None
