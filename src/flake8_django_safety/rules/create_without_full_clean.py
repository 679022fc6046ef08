from __future__ import annotations

import re

from flake8_django_safety._lazy import cst

from flake8_django_safety.outside import (
    OutsideValues,
    calls_full_clean,
    generic_model_serializer,
    model_form_resolver,
    public_function,
    validated_next,
    without_clean_in_save,
)
from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.orm import (
    PAIR_READS,
    describe_hooks,
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
    Off by default. On 50 real code bases (the 19 projects of the earlier
    audits, 15 more libraries and 16 Django applications such as nautobot,
    weblate and pretalx) 12 of its 16 reports (75%, eight of them narrow)
    are true positives (docs/precision.md, third iteration); the earlier
    definition had 14 of 56: most false reports were demo-data commands,
    test helpers and services creating rows from literals, settings or other
    rows. The four left write a count whose only check repeats its field's
    own range, a slug built from a loop counter, and `**dict` values of
    which only some come from input. Enable it with `--extend-select=DJS202`.

    Deviation from RULES.md: only values from outside count. A field a hook
    reads must be set to request data (`request.POST`, `request.data`, ...),
    a form's `cleaned_data`, a serializer's `validated_data` /
    `initial_data`, a file's contents (`.read()`, `json.load()`), a
    parameter of a public function (not a `_private`
    helper, whose callers are its own code) or a local made from one of
    these (a row the user chose, `value.pk`). Literals, settings, fields of
    other rows (a queryset's results, even when looked up by input),
    attributes of an object a parameter holds (`source.price`), digests
    (`.hexdigest()`), a ModelForm's `cleaned_data` and the instance
    `super().save()` returns (both went through `full_clean()`) are valid
    by construction or as stored, and stay silent. A constant that breaks a hook is missed. A row validated right
    after it is created (`x.full_clean()`, or a model method that calls it,
    as the next statements of the same block or under `if created:` of a
    `get_or_create()`) is silent too, and so is a `clean()` the model's own
    `save()` calls.

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
        self.generic_serializers: list[bool] = []
        #: Per function: the locals that hold outside values.
        self.outside: list[OutsideValues] = [OutsideValues(None, parameters_count=False)]
        #: ``create()`` calls whose result the function validates next.
        self.validated_after: set[int] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.outside.append(
            OutsideValues(
                node, parameters_count=public_function(node), is_model_form=model_form_resolver(self.context)
            )
        )

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self.outside.pop()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.validated_after |= validated_next(node.body, self._validates)

    def _validates(self, call: cst.Call, method: str) -> bool:
        """``x.method()`` on the row ``call`` created runs ``full_clean()``."""
        found = model_of_queryset(call.func.value) if isinstance(call.func, cst.Attribute) else None
        ref = None if found is None else resolve_class(self.context, found[0])
        project = self.context.project
        return ref is not None and project is not None and calls_full_clean(project, ref, method)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)
        self.generic_serializers.append(generic_model_serializer(self.context, node))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()
        self.generic_serializers.pop()

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
        serializer = in_model_serializer(self.context, self.classes) or (
            bool(self.generic_serializers) and self.generic_serializers[-1]
        )
        module = project.module(self.context.module_name) if serializer and self.context.module_name else None
        checked = frozenset() if module is None else model_checks_called(project, module, ref)
        if id(node) in self.validated_after:
            return
        # Only values from outside (input, a public function's parameters) can
        # be what a hook rejects: literals, settings and other rows are valid.
        fields = self.outside[-1].fields(node)
        if fields is not None and not fields:
            return
        hooks = project.validation_hooks(ref, fields, field_validators=not serializer, checked=checked)
        hooks = without_clean_in_save(project, ref, hooks)
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
