from __future__ import annotations

import re

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.orm import (
    describe_hooks,
    field_names_argument,
    fields_set_by,
    in_model_serializer,
    model_of_queryset,
    validated_models,
    PAIR_READS,
    ROW_READS,
    SAVES,
    SkipsRolledBackWrites,
    resolve_class,
)
from flake8_django_safety.outside import (
    OutsideValues,
    generic_model_serializer,
    model_form_resolver,
    public_function,
    without_clean_in_save,
)
from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.rule import FileContext, Fix, Rule, Safety
from flake8_django_safety.settings import Settings

if TYPE_CHECKING:
    from flake8_django_safety.project import ClassRef

#: Queryset methods that return one instance of the queryset's model.
_SINGLE = ROW_READS | {"create", "acreate"}
_VIEW_OBJECT = "self.object"
#: ``order.price = ...`` / ``order.price, order.x = ...`` / ``self.object.price += ...``
#: at the start of a line; ``self.<attr> = ...`` is not (it changes the view or form).
_ATTRIBUTE_ASSIGNMENT = re.compile(
    r"^[ \t]*(?!self\.(?!object\.))([A-Za-z_]\w*(?:\.object)?)\.(\w+)[ \t]*"
    r"(?:,|(?:[-+*/%|&^@]|//|\*\*|<<|>>)?=(?!=))",
    re.MULTILINE,
)
_SETATTR = re.compile(r"\bsetattr\(\s*(self\.object|[A-Za-z_]\w*)\s*,")
_METHOD_CALL = re.compile(r"(?<![\w.])(self\.object|[A-Za-z_]\w*)\.(\w+)\(")


@dataclass
class _Scope:
    """Instances typed so far in one function, and those already validated."""

    instances: dict[str, ClassRef] = field(default_factory=dict)
    cleaned: set[str] = field(default_factory=set)
    #: Fields set on each instance since it was typed; None when any may be.
    changed: dict[str, set[str] | None] = field(default_factory=dict)
    #: Of those, the fields set to values from outside (input, parameters).
    outside: dict[str, set[str] | None] = field(default_factory=dict)
    values: OutsideValues = field(default_factory=lambda: OutsideValues(None, parameters_count=False))

    def track(self, key: str, ref: ClassRef, changed: set[str] | None, outside: set[str] | None) -> None:
        self.instances[key] = ref
        self.changed[key] = changed
        self.outside[key] = outside
        self.cleaned.discard(key)

    def touch(self, key: str, fields: Iterable[str] | None, outside: bool = True) -> None:
        """``key`` had ``fields`` assigned (None: any field), from outside or not."""
        if key not in self.instances:
            return
        for known_by in (self.changed, self.outside) if outside else (self.changed,):
            known = known_by.get(key)
            if fields is None or known is None:
                known_by[key] = None
            else:
                known.update(fields)


class SaveWithoutFullClean(SkipsRolledBackWrites, Rule):
    """
    ## What it does
    Flags `obj.save()` / `obj.asave()` where `obj` is an instance of a model
    with validation `full_clean()` would run (`clean()`, `clean_fields()`,
    `validate_unique()`, `validate_constraints()`, a field with `validators=`,
    on the model or a base in another file) and no `obj.full_clean()` call
    comes before it in the same function. Instances are recognised from
    `Model(...)`, `Model.objects.get/first/last/latest/earliest/create(...)`
    (also after `filter()` and friends), `get_or_create()` / `update_or_create()`
    unpacking or `[0]`, `get_object_or_404(Model, ...)`, iteration over a
    queryset of the model, `self.object` / `self.get_object()` in a class with
    `model =` or `queryset =`, and parameters annotated with the model.

    ## Why is this bad?
    `save()` never calls `full_clean()`: a model's `clean()` and its fields'
    validators run only when something calls `full_clean()` (a `ModelForm`
    does, in `is_valid()`). Code that changes an instance and saves it stores
    whatever it was given.

    ## Known problems
    Off by default. On 50 real code bases (the 19 projects of the earlier
    audits, 15 more libraries and 16 Django applications such as nautobot,
    weblate and pretalx) 5 of its 8 reports (63%) are true positives
    (docs/precision.md, third iteration); the earlier definition had 5 of 17:
    most false reports stored a literal, a setting or a value copied from
    another row, none of which a hook rejects. The three left are a `clean()`
    that only normalises but calls a string method (read as a possible
    raise) and two parameters whose every caller passes valid values.
    Enable it with `--extend-select=DJS201`.

    Deviation from RULES.md: only values from outside count. A field a hook
    reads must be set to request data (`request.POST`, `request.data`, ...),
    a form's `cleaned_data`, a serializer's `validated_data` /
    `initial_data`, a file's contents (`.read()`, `json.load()`), a
    parameter of a public function (not a `_private`
    helper, whose callers are its own code) or a local made from one of
    these (a row the user chose, `value.pk`), or changed by an augmented
    assignment (`obj.percent += 5`: arithmetic on a stored value can leave
    the range a hook allows). Literals, settings, fields of
    other rows (a queryset's results, even when looked up by input),
    attributes of an object a parameter holds (`source.price`), digests
    (`.hexdigest()`), a ModelForm's `cleaned_data` and the instance
    `super().save()` returns (both went through `full_clean()`) are valid
    by construction or as stored, and stay silent. A constant that breaks a hook is missed.

    A row loaded from the database (a lookup, iteration, `get_object()`, an
    annotated parameter) is assumed valid as stored: it is reported only when
    the function sets a field that a hook or validator reads (`obj.f = ...`,
    `setattr()`, or a method of the model that assigns it, given an outside
    argument), narrowed by a literal `update_fields`. A new `Model(...)`
    counts the fields it passes. A `clean()` that never raises (it only
    normalises values) is no hook, nor is a `clean()` the model's own
    `save()` calls, and a hook that hands `self` to other code counts only
    when any field may have changed. Inside a DRF `ModelSerializer` field
    validators are left out (its fields ran them). Any earlier
    `obj.full_clean()` in the function counts, in whichever branch
    (precision first). Instances from `form.save(commit=False)` or
    `form.instance` are not typed (the form validated them), `self.save()`
    inside the model is left alone, models that validate in their own
    `save()` or have a project base that cannot be read are not reported,
    and neither are test modules nor writes inside a context manager that
    rolls its block back.

    ## Example
    ```python
    from django.core.exceptions import ValidationError
    from django.db import models


    class Coupon(models.Model):
        percent = models.PositiveIntegerField()

        def clean(self):
            if self.percent > 100:
                raise ValidationError("A discount cannot exceed 100%.")


    def raise_discount(pk, percent):
        coupon = Coupon.objects.get(pk=pk)
        coupon.percent = percent
        coupon.save()
    ```

    ## Use instead
    ```python
    from django.core.exceptions import ValidationError
    from django.db import models


    class Coupon(models.Model):
        percent = models.PositiveIntegerField()

        def clean(self):
            if self.percent > 100:
                raise ValidationError("A discount cannot exceed 100%.")


    def raise_discount(pk, percent):
        coupon = Coupon.objects.get(pk=pk)
        coupon.percent = percent
        coupon.full_clean()
        coupon.save()
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## Fix safety
    The fix is unsafe: it inserts `obj.full_clean()` on the line before the
    save, so invalid data raises `ValidationError` instead of being stored, and
    uniqueness checks add queries. Offered when the save is a statement of its
    own.

    ## References
    - [Django: validating objects](https://docs.djangoproject.com/en/stable/ref/models/instances/#validating-objects)
    - [Django: `Model.save()`](https://docs.djangoproject.com/en/stable/ref/models/instances/#saving-objects)
    """

    code = "DJS201"
    default_enabled = False
    name = "save-without-full-clean"
    message = "Saving a `{model}` with `{call}` skips `full_clean()` and with it {hooks}; call `{target}.full_clean()` first"
    fix_safety = Safety.UNSAFE
    options = ("test_patterns", "cache_dir")

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.scopes: list[_Scope] = [_Scope()]
        #: Per class being visited: the model its ``model =`` / ``queryset =`` names.
        self.view_models: list[ClassRef | None] = []
        self.statements: dict[int, cst.SimpleStatementLine] = {}
        self.classes: list[str] = []
        self.generic_serializers: list[bool] = []

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return not settings.is_test_file(filename)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        # Parse with libcst only files that name a model that skips validation
        # and can change one: build it, assign an attribute, call a model method
        # that assigns fields.
        # Only receivers saved in this file matter (the regex before the index).
        saved = text.saved_receivers - {"self"}  # self.save() in a model is left alone
        if not saved:
            return False
        models = validated_models(text, settings)
        if not models:
            return False
        source = text.text
        for name in models:
            pattern = rf"^[ \t]*(self\.object|[A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=[ \t]*(?:await[ \t]+)?{re.escape(name)}[ \t]*\("
            if any(match.group(1) in saved for match in re.finditer(pattern, source, re.MULTILINE)):
                return True
        if any(receiver in saved for receiver in _SETATTR.findall(source)):
            return True
        from flake8_django_safety.project import index_for_file

        project = index_for_file(text.filename, settings.index_cache_dir)
        if project is None:
            return False
        checked = project.fields_checked(models.values())
        for match in _ATTRIBUTE_ASSIGNMENT.finditer(source):
            field_name = match.group(2)
            if match.group(1) in saved and (field_name in checked or field_name.removesuffix("_id") in checked):
                return True
        writers = {method for ref in models.values() for method in project.writer_methods(ref, checked)}
        return any(
            receiver in saved and method in writers for receiver, method in _METHOD_CALL.findall(source)
        )

    # -- scopes ----------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.view_models.append(self._class_model(node))
        self.classes.append(node.name.value)
        self.generic_serializers.append(generic_model_serializer(self.context, node))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.view_models.pop()
        self.classes.pop()
        self.generic_serializers.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        values = OutsideValues(
            node, parameters_count=public_function(node), is_model_form=model_form_resolver(self.context)
        )
        scope = _Scope(values=values)
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.annotation is not None:
                ref = self._validated(resolve_class(self.context, param.annotation.annotation))
                if ref is not None:
                    scope.track(param.name.value, ref, set(), set())
        view_model = self.view_models[-1] if self.view_models else None
        if view_model is not None:
            scope.track(_VIEW_OBJECT, view_model, set(), set())
        self.scopes.append(scope)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self.scopes.pop()

    # -- typing instances ------------------------------------------------------

    def leave_Assign(self, original_node: cst.Assign) -> None:
        if len(original_node.targets) != 1:
            return
        target = original_node.targets[0].target
        value = original_node.value
        scope = self.scopes[-1]
        key = _receiver_key(target)
        if key is not None:
            ref = self._instance_of(value)
            if ref is not None:
                scope.track(key, *ref)
            else:  # ``self.object = form.save(commit=False)``: the form validated it
                scope.instances.pop(key, None)
        elif isinstance(target, cst.Tuple) and target.elements:
            first = target.elements[0].value
            ref = self._pair_instance(value)
            if isinstance(first, cst.Name):
                if ref is not None:
                    scope.track(first.value, ref, set(), set())
                else:
                    scope.instances.pop(first.value, None)
        for assigned, assigned_value in _assigned_attributes(original_node.targets[0].target, value):
            self._touch_attribute(assigned, assigned_value)

    def leave_AugAssign(self, original_node: cst.AugAssign) -> None:
        # ``coupon.percent += 5``: arithmetic on a stored value can leave the
        # range a hook allows, whatever the operand.
        self._touch_attribute(original_node.target, None, outside=True)

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        self._touch_attribute(original_node.target, original_node.value)

    def _touch_attribute(
        self, target: cst.BaseExpression, value: cst.BaseExpression | None, outside: bool = False
    ) -> None:
        """``order.price = ...``: the ``price`` of ``order`` changed, to a value
        from outside or not."""
        if isinstance(target, cst.Attribute):
            key = _receiver_key(target.value)
            if key is not None:
                scope = self.scopes[-1]
                scope.touch(key, [target.attr.value], outside or scope.values.is_outside(value))

    def visit_For(self, node: cst.For) -> None:
        if isinstance(node.target, cst.Name):
            ref = self._queryset_model(node.iter)
            if ref is not None:
                self.scopes[-1].track(node.target.value, ref, set(), set())

    def _instance_of(
        self, value: cst.BaseExpression
    ) -> tuple[ClassRef, set[str] | None, set[str] | None] | None:
        """The model of the instance ``value`` gives, the fields already set on
        it: those a constructor passes (None: any), none for a row from the
        database; and of those, the ones set to values from outside."""
        if isinstance(value, cst.Await):
            value = value.expression
        if isinstance(value, cst.Subscript):
            element = value.slice[0].slice if len(value.slice) == 1 else None
            if isinstance(element, cst.Index) and isinstance(element.value, cst.Integer) and element.value.value == "0":
                return _loaded(self._pair_instance(value.value))
            return None
        if not isinstance(value, cst.Call):
            return None
        func = value.func
        if isinstance(func, cst.Attribute) and func.attr.value in _SINGLE:
            return _loaded(self._queryset_model(func.value))
        if isinstance(func, cst.Attribute) and func.attr.value == "get_object" and _is_self(func.value):
            return _loaded(self.scopes[-1].instances.get(_VIEW_OBJECT))
        callee = self.context.imports.qualify(func) or ""
        if callee.endswith("get_object_or_404") and value.args:
            first = value.args[0].value
            return _loaded(self._validated(resolve_class(self.context, first)) or self._queryset_model(first))
        ref = self._validated(resolve_class(self.context, func))
        if ref is None:
            return None
        fields = fields_set_by(value)
        outside = self.scopes[-1].values.fields(value)
        return ref, None if fields is None else set(fields), None if outside is None else set(outside)

    def _pair_instance(self, value: cst.BaseExpression) -> ClassRef | None:
        if isinstance(value, cst.Await):
            value = value.expression
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            if value.func.attr.value in PAIR_READS:
                return self._queryset_model(value.func.value)
        return None

    def _queryset_model(self, node: cst.BaseExpression) -> ClassRef | None:
        found = model_of_queryset(node)
        return None if found is None else self._validated(resolve_class(self.context, found[0]))

    def _validated(self, ref: ClassRef | None) -> ClassRef | None:
        project = self.context.project
        if ref is None or project is None or not project.skips_validation(ref):
            return None
        return ref

    def _class_model(self, node: cst.ClassDef) -> ClassRef | None:
        """``model = Order`` or ``queryset = Order.objects...`` in a class body."""
        if not isinstance(node.body, cst.IndentedBlock):
            return None
        for statement in node.body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
                    continue
                target = small.targets[0].target
                if isinstance(target, cst.Name) and target.value == "model":
                    return self._validated(resolve_class(self.context, small.value))
                if isinstance(target, cst.Name) and target.value == "queryset":
                    return self._queryset_model(small.value)
        return None

    # -- saves -----------------------------------------------------------------

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) == 1 and isinstance(node.body[0], cst.Expr):
            value = node.body[0].value
            call = value.expression if isinstance(value, cst.Await) else value
            if isinstance(call, cst.Call):
                self.statements[id(call)] = node

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name) and func.value == "setattr" and len(node.args) >= 2:
            receiver = _receiver_key(node.args[0].value)
            ref = None if receiver is None else self.scopes[-1].instances.get(receiver)
            project = self.context.project
            if receiver is not None and ref is not None and project is not None:
                scope = self.scopes[-1]
                outside = len(node.args) < 3 or scope.values.is_outside(node.args[2].value)
                scope.touch(receiver, _named_fields(node.args[1].value, project.field_names(ref)), outside)
            return
        if not isinstance(func, cst.Attribute):
            return
        receiver = _receiver_key(func.value)
        if receiver is None:
            return
        scope = self.scopes[-1]
        if func.attr.value == "full_clean":
            scope.cleaned.add(receiver)
            return
        ref = scope.instances.get(receiver)
        project = self.context.project
        if ref is None or project is None or receiver in scope.cleaned:
            return
        if func.attr.value not in SAVES:
            # ``entry.approve()``: the fields the model's own method assigns
            outside = any(scope.values.is_outside(arg.value) for arg in node.args)
            scope.touch(receiver, project.writes(ref, func.attr.value), outside)
            return
        if self.rolled_back.active:
            return
        changed = scope.changed.get(receiver)
        written = field_names_argument(node, "update_fields")
        if written is not None:
            changed = set(written) if changed is None else changed & written
        if changed is not None and not changed:
            return  # a row from the database saved without changing a field
        # Only values from outside (input, a public function's parameters) can
        # be what a hook rejects: literals, settings and other rows are valid.
        outside = scope.outside.get(receiver)
        if written is not None:
            outside = set(written) if outside is None else outside & written
        if outside is not None and not outside:
            return
        serializer = in_model_serializer(self.context, self.classes) or (
            bool(self.generic_serializers) and self.generic_serializers[-1]
        )
        hooks = project.validation_hooks(
            ref, None if outside is None else frozenset(outside), field_validators=not serializer
        )
        hooks = without_clean_in_save(project, ref, hooks)
        if not hooks:
            return
        message = self.message.format(
            call=f"{receiver}.{func.attr.value}()",
            model=ref.facts.name,
            hooks=describe_hooks(hooks),
            target=receiver,
        )
        self.report(node, message, self._fix(node, func.value))

    def _fix(self, call: cst.Call, receiver: cst.BaseExpression) -> Fix | None:
        statement = self.statements.get(id(call))
        if statement is None:
            return None
        clean = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=cst.Attribute(receiver, cst.Name("full_clean"))))],
            leading_lines=statement.leading_lines,
        )
        replacement = cst.FlattenSentinel([clean, statement.with_changes(leading_lines=())])
        return Fix("Call `full_clean()` before saving", Safety.UNSAFE, statement, replacement)


def _named_fields(name: cst.BaseExpression, fields: frozenset[str]) -> Iterable[str] | None:
    """The fields ``setattr(obj, name, ...)`` can set: the literal, the model's
    fields that start with a literal prefix (``"is_%s" % kind``, ``f"is_{kind}"``,
    ``"is_" + kind``), or None (any field) for a computed name."""
    if isinstance(name, cst.SimpleString):
        return [name.raw_value]
    prefix = None
    if isinstance(name, cst.BinaryOperation) and isinstance(name.left, cst.SimpleString):
        if isinstance(name.operator, cst.Modulo):
            prefix = name.left.raw_value.partition("%")[0]
        elif isinstance(name.operator, cst.Add):
            prefix = name.left.raw_value
    elif isinstance(name, cst.FormattedString) and name.parts and isinstance(name.parts[0], cst.FormattedStringText):
        prefix = name.parts[0].value
    if not prefix:
        return None
    return [field for field in fields if field.startswith(prefix)]


def _loaded(ref: ClassRef | None) -> tuple[ClassRef, set[str] | None, set[str] | None] | None:
    """A row read from the database: valid as stored, nothing changed yet."""
    return None if ref is None else (ref, set(), set())


def _assigned_attributes(
    target: cst.BaseExpression, value: cst.BaseExpression | None
) -> Iterable[tuple[cst.BaseExpression, cst.BaseExpression | None]]:
    """Each target of an assignment with its value, through tuple unpacking
    (``a.x, a.y = u, v`` pairs them; otherwise each gets the whole value)."""
    if isinstance(target, (cst.Tuple, cst.List)):
        pairs = (
            isinstance(value, (cst.Tuple, cst.List))
            and len(value.elements) == len(target.elements)
            and not any(isinstance(element, cst.StarredElement) for element in value.elements)
        )
        for index, element in enumerate(target.elements):
            yield from _assigned_attributes(element.value, value.elements[index].value if pairs else value)  # type: ignore[union-attr]
    else:
        yield target, value


def _is_self(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "self"


def _receiver_key(node: cst.BaseExpression) -> str | None:
    """``order`` for a local, ``self.object`` for a generic view's object."""
    if isinstance(node, cst.Name) and node.value != "self":
        return node.value
    if isinstance(node, cst.Attribute) and _is_self(node.value) and node.attr.value == "object":
        return _VIEW_OBJECT
    return None
