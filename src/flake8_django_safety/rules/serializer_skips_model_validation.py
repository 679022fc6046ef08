from __future__ import annotations

import ast
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
    Off by default: on 50 real code bases (pretix, netbox, nautobot,
    mayan-edms, geonode, shuup and 44 more libraries and applications) all 7
    reports were true positives, 7 of the 18 before the refinements below
    (docs/precision.md).
    Enable it with `--extend-select=DJS204`.

    Narrower than the catalog's definition: only a serializer the project
    evidently writes through is reported. It (or a project base) defines
    `create()`, `update()` or `save()`; or the project instantiates it with
    `data=` (or a second positional argument), nests it as a field that is
    not `read_only=True`, names it as the `serializer_class` of a DRF view
    that writes (`ModelViewSet`, the create/update mixins and generic views,
    or a project view with `create()`/`post()`/...) and does not pick its
    serializer per request, or returns it from `get_serializer_class()`
    outside a read-only branch (`if self.action == "list"`, the `else` of
    `if method == "POST"`). On 16 Django applications five of eleven
    reports were serializers used only to render rows; a serializer handed
    to a helper or named in a setting is therefore not reported.

    Silent when the serializer (or a project base) has its own `validate()`
    that can raise, or a `validate_<field>()` that can raise for every field
    the model's hooks read: object-level validation written by hand, whose
    completeness the rule cannot judge. Silent when it overrides
    `to_internal_value()` without `create()`/`update()` (input becomes a
    lookup, not a write), when `Meta.fields` less `read_only_fields` leaves
    out every field the model's hooks read, and for hooks made only of model
    checks that the module's `validate*()` methods call themselves (a parent
    serializer validating its nested rows). A `clean()` whose every `raise`
    sits under `if <field> < 0` for a `Positive*Field` the serializer does not
    redeclare (DRF copies the field's minimum as `min_value=0`) does not
    count, nor does a `clean()` that the model's own `save()` calls, or whose
    every field a method `save()` calls reads while it can raise (checks
    written into `save()`, whose completeness the rule cannot judge either).
    Models whose own `save()` calls `self.full_clean()` are not reported, nor are serializers whose model or
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


    def book(request):
        serializer = BookingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
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


    def book(request):
        serializer = BookingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
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
    fields = _serializer_fields(classes)
    covered = _fields_validated_by_hand(classes)
    if covered:  # validate_<field>() that can raise: the field's check is written by hand
        fields = (project.field_names(model_ref) if fields is None else fields) - covered
    hooks = project.validation_hooks(model_ref, fields, field_validators=False, checked=checked)
    if "clean()" in hooks and (
        _save_calls_clean(project, model_ref) or _only_own_ranges(project, model_ref, classes)
    ):
        hooks.remove("clean()")  # save() runs it, or the serializer's fields check the same
    if not hooks or not _writes(project, ref, classes):
        return None
    return model_ref, hooks


def _fields_validated_by_hand(classes: list[ClassRef]) -> frozenset[str]:
    """Fields with a ``validate_<field>()`` method (own or from a project base) that can raise."""
    return frozenset(
        name.removeprefix("validate_")
        for item in classes
        for name, method in item.facts.method_facts.items()
        if name.startswith("validate_") and method.may_raise
    )


_POSITIVE_FIELDS = frozenset({"PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField"})


def _only_own_ranges(project: ProjectIndex, model: ClassRef, classes: list[ClassRef]) -> bool:
    """Every ``raise`` of the model's ``clean()`` (and of the model's own helpers it
    calls, ``self.clean_count(self.count)``) sits under ``if <field> < 0`` for a
    ``Positive*Field`` that the serializer does not declare itself: DRF copies the
    field's ``MinValueValidator(0)`` as ``min_value=0``, so the API rejects the
    same values."""
    declared = {f.name for item in classes for f in item.facts.fields}
    positive = set()
    owners: dict[str, ClassRef] = {}
    for item in project.ancestry(model):
        if isinstance(item, str):
            continue
        for f in item.facts.fields:
            if f.field_class.rpartition(".")[2] in _POSITIVE_FIELDS and f.name not in declared:
                positive.add(f.name)
        for name in item.facts.methods:
            owners.setdefault(name, item)
    owner = owners.get("clean")
    if owner is None or not positive:
        return False
    methods = _class_methods(project, owner)
    clean = methods.get("clean")
    return clean is not None and _raises_only_below_zero(clean, {"self": None}, positive, owners, project, 0)


def _class_methods(project: ProjectIndex, ref: ClassRef) -> dict[str, ast.FunctionDef]:
    """The methods of a project class, parsed from its module's text (memoised)."""
    found = project.memoised(("DJS204-methods", ref.qualname), lambda: _parse_methods(project, ref))
    return found  # type: ignore[return-value]


def _parse_methods(project: ProjectIndex, ref: ClassRef) -> dict[str, ast.FunctionDef]:
    for module_name, path in project.project_files():
        if module_name == ref.module.name:
            try:
                tree = ast.parse(project.source_text(module_name, path) or "")
            except (SyntaxError, ValueError):
                return {}
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name == ref.facts.name:
                    return {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
    return {}


def _field_of(node: ast.expr, names: dict[str, str | None]) -> str | None:
    """The field an expression stands for: ``self.count``, or a parameter bound to it."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    if isinstance(node, ast.Name):
        return names.get(node.id)
    return None


def _raises_only_below_zero(
    function: ast.FunctionDef,
    names: dict[str, str | None],
    positive: set[str],
    owners: dict[str, ClassRef],
    project: ProjectIndex,
    depth: int,
) -> bool:
    if depth > 3:
        return False
    guarded: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.If):
            test = node.test
            if (
                isinstance(test, ast.Compare)
                and len(test.ops) == 1
                and isinstance(test.ops[0], ast.Lt)
                and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value == 0
                and _field_of(test.left, names) in positive
                and not node.orelse
            ):
                guarded.update(id(sub) for sub in ast.walk(node))
    for node in ast.walk(function):
        if isinstance(node, (ast.Raise, ast.Assert)) and id(node) not in guarded:
            return False
        if isinstance(node, ast.Call) and id(node) not in guarded:
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
                if isinstance(func.value.func, ast.Name) and func.value.func.id == "super":
                    continue  # super().clean(): Django's own is empty; project bases are other hooks
            if isinstance(func, ast.Attribute) and _names_self_or_class(func.value, owners):
                helper_owner = owners.get(func.attr)
                if helper_owner is None:
                    return False
                helper = _class_methods(project, helper_owner).get(func.attr)
                if helper is None or node.keywords:
                    return False
                params = [a.arg for a in helper.args.args]
                if params and params[0] in ("self", "cls") and not _is_static(helper):
                    params = params[1:]
                bound = {param: _field_of(arg, names) for param, arg in zip(params, node.args)}
                if not _raises_only_below_zero(helper, bound, positive, owners, project, depth + 1):
                    return False
            elif not _harmless(func):
                return False
    return True


def _names_self_or_class(node: ast.expr, owners: dict[str, ClassRef]) -> bool:
    return isinstance(node, ast.Name) and (
        node.id == "self" or any(ref.facts.name == node.id for ref in owners.values())
    )


def _is_static(function: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list)


def _harmless(func: ast.expr) -> bool:
    """Calls that build the error message: ``_("...")``, ``gettext(...)``, ``ValidationError(...)``."""
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in {"_", "gettext", "gettext_lazy", "ugettext", "ugettext_lazy", "ValidationError", "format"}


def _save_calls_clean(project: ProjectIndex, model: ClassRef) -> bool:
    """The model's nearest project ``save()`` calls ``self.clean()``, or a method
    of its own that reads every field ``clean()`` reads and can raise:
    validation written into ``save()``, whose completeness is not ours to judge
    (as with a serializer's own ``validate()``)."""
    save = project.method(model, "save")
    if save is None:
        return False
    if "clean" in save.self_calls:
        return True
    reads: frozenset[str] = frozenset()
    for hook in project.hooks(model):
        if hook.label == "clean()":
            if hook.reads is None:
                return False
            reads |= hook.reads
    if not reads:
        return False
    for name in save.self_calls:
        inner = project.method(model, name)
        if inner is not None and inner.may_raise and reads <= inner.reads:
            return True
    return False


#: DRF view bases whose routes write through ``serializer_class``.
_WRITE_VIEWS = frozenset(
    {
        "ModelViewSet", "CreateModelMixin", "UpdateModelMixin", "CreateAPIView", "ListCreateAPIView",
        "UpdateAPIView", "RetrieveUpdateAPIView", "RetrieveUpdateDestroyAPIView",
    }
)  # fmt: skip
#: Methods of a project view class that DRF routes input to (``perform_create()``
#: is no route: a project mixin shared by read-only views may define it).
_WRITE_HANDLERS = frozenset({"create", "update", "partial_update", "post", "put", "patch"})
_WRITE_WORDS = frozenset({"POST", "PUT", "PATCH", "post", "put", "patch", "create", "update", "partial_update"})
_READ_WORDS = frozenset({"GET", "HEAD", "OPTIONS", "get", "list", "retrieve", "metadata"})
_SELECTORS = frozenset({"get_serializer_class", "get_serializer"})


def _writes(project: ProjectIndex, ref: ClassRef, classes: list[ClassRef]) -> bool:
    """Evidence that the serializer takes input that is saved: it (or a project
    base) defines ``create()``, ``update()`` or ``save()``; or the project
    instantiates it with ``data=`` (or a second positional argument), nests it as a
    field that is not ``read_only=True``, names it as the ``serializer_class`` of a
    view that writes and does not choose its serializer per request, or returns it
    from a ``get_serializer_class()`` branch that is not a read-only one. Uses the
    rule cannot read (handed to a helper, kept in a registry) are no evidence:
    precision first."""
    if any(item.facts.methods & {"create", "update", "save"} for item in classes):
        return True
    return bool(project.memoised(("DJS204-writes", ref.qualname), lambda: _used_for_input(project, ref)))


def _used_for_input(project: ProjectIndex, ref: ClassRef) -> bool:
    name = ref.facts.name
    for module_name, path in project.modules_mentioning((name,)):
        try:
            tree = ast.parse(project.source_text(module_name, path) or "")
        except (OSError, SyntaxError, ValueError):
            continue
        if _module_uses_for_input(project, module_name, tree, name):
            return True
    return False


def _names(node: ast.expr | None, name: str) -> bool:
    """``node`` is the name (``X`` or ``module.X``)."""
    return (isinstance(node, ast.Name) and node.id == name) or (isinstance(node, ast.Attribute) and node.attr == name)


def _module_uses_for_input(project: ProjectIndex, module_name: str, tree: ast.Module, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _names(node.func, name):
            if len(node.args) >= 2 or any(k.arg == "data" for k in node.keywords):
                return True
        elif isinstance(node, ast.Call) and any(_names(k.value, name) for k in node.keywords if k.arg == "serializer_class"):
            # ``@action(methods=["post"], serializer_class=X)``
            methods = next((k.value for k in node.keywords if k.arg == "methods"), None)
            if methods is not None and _words(methods) & _WRITE_WORDS:
                return True
        elif isinstance(node, ast.ClassDef):
            if _class_uses_for_input(project, module_name, node, name):
                return True
    return False


def _class_uses_for_input(project: ProjectIndex, module_name: str, node: ast.ClassDef, name: str) -> bool:
    view = None
    for statement in node.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
            call = statement.value
            if _names(call.func, name) and not any(
                k.arg == "read_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in call.keywords
            ):
                return True  # a nested, writable field of a parent serializer
        elif isinstance(statement, ast.Assign) and _names(statement.value, name):
            if any(isinstance(t, ast.Name) and t.id == "serializer_class" for t in statement.targets):
                view = view or project.resolve_class(f"{module_name}.{node.name}")
                if view is not None and _view_writes(project, view) and not _selects(project, view):
                    return True
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name in _SELECTORS:
            if _selected_for_input(statement.body, name):
                view = view or project.resolve_class(f"{module_name}.{node.name}")
                if view is not None and _view_writes(project, view):
                    return True
    return False


def _view_writes(project: ProjectIndex, view: ClassRef) -> bool:
    for item in project.ancestry(view):
        if isinstance(item, str):
            if item.startswith("rest_framework.") and item.rpartition(".")[2] in _WRITE_VIEWS:
                return True
        elif item.facts.methods & _WRITE_HANDLERS:
            return True
    return False


def _selects(project: ProjectIndex, view: ClassRef) -> bool:
    """The view (or a project base) picks its serializer per request."""
    return any(not isinstance(item, str) and item.facts.methods & _SELECTORS for item in project.ancestry(view))


def _words(node: ast.AST) -> frozenset[str]:
    return frozenset(
        sub.value for sub in ast.walk(node) if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
    )


def _selected_for_input(body: list[ast.stmt], name: str) -> bool:
    """A statement of ``body`` returns (or assigns) the serializer outside a branch
    that only read requests take: not under ``if ... == "list"`` / ``"GET"``, not
    in the ``else`` of a test for ``"POST"`` / ``"create"``."""
    for statement in body:
        if isinstance(statement, ast.If):
            words = _words(statement.test)
            if not (words & _READ_WORDS and not words & _WRITE_WORDS) and _selected_for_input(statement.body, name):
                return True
            if not words & _WRITE_WORDS and _selected_for_input(statement.orelse, name):
                return True
        elif isinstance(statement, ast.Return) and _names(statement.value, name):
            return True
        elif isinstance(statement, ast.Assign) and _names(statement.value, name):
            return True
        elif isinstance(statement, (ast.With, ast.For, ast.Try)) and _selected_for_input(statement.body, name):
            return True
        elif isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Dict):
            for key, value in zip(statement.value.keys, statement.value.values):
                if _names(value, name) and (key is None or not _words(key) & _READ_WORDS):
                    return True
    return False


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
