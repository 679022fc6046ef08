from __future__ import annotations

import re

from flake8_django_safety._lazy import cst

from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.orm import (
    PAIR_READS,
    describe_hooks,
    fields_set_by,
    in_model_serializer,
    model_checks_called,
    model_of_queryset,
    names_validated_model,
    SkipsRolledBackWrites,
    resolve_class,
)
from flake8_django_safety.rule import FileContext, Fix, Rule, Safety
from flake8_django_safety.settings import Settings

_CREATORS = PAIR_READS | {"create", "acreate"}
#: ``Order.objects.create(``, ``Order.objects.using(db).aget_or_create(``: a
#: class name (CapWords, as Django models are named) and a manager.
_MANAGER_CALL = re.compile(
    r"((?<![\w.])(?:[A-Za-z_]\w*\.)*[A-Z]\w*)\s*\.\s*\w+\s*\.\s*(?:using\([^()]*\)\s*\.\s*)?a?(?:get_or_|update_or_)?create\("
)


class CreateWithoutFullClean(SkipsRolledBackWrites, Rule):
    """
    ## What it does
    Flags `Model.objects.create(...)`, `get_or_create(...)` and
    `update_or_create(...)` (and their `a`-prefixed async forms, through any
    manager name and through `.using(...)`) on a model that has validation
    `full_clean()` would run: `clean()`, `clean_fields()`, `validate_unique()`,
    `validate_constraints()` or a field with `validators=`, defined on the model
    or inherited from a base in another file or app.

    ## Why is this bad?
    `create()` and its relatives call `save()`, and `save()` never calls
    `full_clean()`: the model's `clean()` and its fields' validators run only
    in `ModelForm.is_valid()`. Rows created in services, signals, management
    commands and API views skip every rule the model declares, and the
    database stores values the rest of the code assumes cannot exist.

    ## Known problems
    Off by default: on 19 real projects (pretix, netbox, django-oscar,
    django-allauth, django-cms, wagtail, ...) 6 of 8 reports (75%, three of
    them narrow) were true positives; the others copied values from an
    instance a form had validated with the same check, or wrote a count whose
    only check repeats its field's own range (docs/precision.md).
    Enable it with `--extend-select=DJS202`.

    Only the hooks that read a field the call sets count (a field's
    `validators=` for that field; `clean()` by the fields it reads). Inside a
    DRF `ModelSerializer` field validators are left out (its fields ran them),
    and so are hooks made only of model checks the module's `validate*()`
    methods call themselves. Writes inside a context manager that rolls its
    block back (a project `@contextmanager` that yields inside `atomic()` and
    then raises or calls `set_rollback(True)`), or in a function only called
    from inside one, are simulations and are not reported. Models whose own
    `save()` calls `self.full_clean()` validate themselves and are not
    reported. Related managers (`customer.addresses.create()`) and models
    that cannot be resolved to a class of the project are left alone, and so
    are test modules.

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


    def issue_coupon(code, percent):
        coupon = Coupon.objects.create(code=code, percent=percent)
        return coupon
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


    def issue_coupon(code, percent):
        coupon = Coupon(code=code, percent=percent)
        coupon.full_clean()
        coupon.save()
        return coupon
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## Fix safety
    The fix is unsafe: it makes invalid data raise `ValidationError` where it
    used to be stored, which is the point, but callers may not expect it.
    `full_clean()` also checks uniqueness with an extra query. A `create()`
    whose result is assigned to a name (or discarded) becomes `x = Model(...)`,
    `x.full_clean()`, `x.save()` (`using=` carried over from `.using(...)`;
    `await x.asave()` for `acreate()`). `get_or_create()` and
    `update_or_create()` are reported without a fix.

    ## References
    - [Django: validating objects](https://docs.djangoproject.com/en/stable/ref/models/instances/#validating-objects)
    - [Django: `QuerySet.create`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#create)
    """

    code = "DJS202"
    default_enabled = False
    name = "create-without-full-clean"
    message = "Creating with `{call}` skips `full_clean()` and with it {hooks}; build the instance, call `full_clean()`, then `save()`"
    fix_safety = Safety.UNSAFE
    options = ("test_patterns", "cache_dir")

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        #: Calls that are a whole statement: ``x = Model.objects.create(...)``.
        self._fixable: dict[int, tuple[cst.SimpleStatementLine, str | None, bool]] = {}
        self.classes: list[str] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return not settings.is_test_file(filename)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        if "create(" not in text.text:
            return False
        names = {
            match.group(1)
            for line in text.lines_with(("create(",))
            for match in _MANAGER_CALL.finditer(line)
        }
        return bool(names) and names_validated_model(text, settings, names)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if len(node.body) != 1:
            return
        statement = node.body[0]
        target: str | None = None
        value: cst.BaseExpression | None = None
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
            if isinstance(statement.targets[0].target, cst.Name):
                target = statement.targets[0].target.value
            value = statement.value
        elif isinstance(statement, cst.Expr):
            value = statement.value
        if value is None:
            return
        awaited = isinstance(value, cst.Await)
        call = value.expression if isinstance(value, cst.Await) else value
        if isinstance(call, cst.Call):
            self._fixable[id(call)] = (node, target, awaited)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in _CREATORS):
            return
        found = model_of_queryset(func.value)
        if found is None or not _manager_only(func.value):
            return
        model_expr, using = found
        ref = resolve_class(self.context, model_expr)
        if ref is None:
            return
        project = self.context.project
        if project is None or not project.skips_validation(ref) or self.rolled_back.active:
            return
        # Field validators matter only for the fields this call sets, and a
        # ModelSerializer already ran them on its input.
        serializer = in_model_serializer(self.context, self.classes)
        module = project.module(self.context.module_name) if serializer and self.context.module_name else None
        checked = frozenset() if module is None else model_checks_called(project, module, ref)
        hooks = project.validation_hooks(ref, fields_set_by(node), field_validators=not serializer, checked=checked)
        if not hooks:
            return
        model = self.context.code_for(model_expr)
        call = f"{self.context.code_for(func)}()"
        message = self.message.format(call=call, hooks=describe_hooks(hooks))
        self.report(node, message, self._fix(node, model_expr, using, func.attr.value, model))

    def _fix(
        self,
        call: cst.Call,
        model_expr: cst.BaseExpression,
        using: cst.Arg | None,
        method: str,
        model: str,
    ) -> Fix | None:
        if method not in ("create", "acreate") or id(call) not in self._fixable:
            return None
        statement, target, awaited = self._fixable[id(call)]
        if awaited != (method == "acreate"):
            return None
        if target is None:
            target = re.sub(r"(?<!^)(?=[A-Z])", "_", model.rsplit(".", 1)[-1]).lower()
            if re.search(rf"\b{re.escape(target)}\b", self.context.module.code):
                return None
        name = cst.Name(target)
        build = cst.Assign(
            targets=[cst.AssignTarget(name)],
            value=cst.Call(func=model_expr, args=call.args),
        )
        tight = cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        )
        save_args = [] if using is None else [cst.Arg(using.value, keyword=cst.Name("using"), equal=tight)]
        save: cst.BaseExpression = cst.Call(
            func=cst.Attribute(name, cst.Name("asave" if awaited else "save")), args=save_args
        )
        if awaited:
            save = cst.Await(save)
        lines = [
            statement.with_changes(body=[build]),
            cst.SimpleStatementLine(
                body=[cst.Expr(cst.Call(func=cst.Attribute(name, cst.Name("full_clean"))))]
            ),
            cst.SimpleStatementLine(body=[cst.Expr(save)]),
        ]
        return Fix(
            "Call `full_clean()` before saving",
            Safety.UNSAFE,
            statement,
            cst.FlattenSentinel(lines),
        )


def _manager_only(receiver: cst.BaseExpression) -> bool:
    """``Order.objects`` or ``Order.objects.using(db)``: ``create()`` needs a manager."""
    if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute):
        return receiver.func.attr.value == "using" and isinstance(receiver.func.value, cst.Attribute)
    return isinstance(receiver, cst.Attribute)
