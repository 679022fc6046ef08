from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.orm import (
    PAIR_READS,
    QUERYSET_METHODS,
    ROW_READS,
    SAVES,
    field_names_argument,
    model_of_queryset,
    resolve_class,
    split_chain,
)
from flake8_django_safety.rule import FileContext, Fix, Rule, Safety
from flake8_django_safety.syntax import descendants

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.call_sites import Signature
    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ProjectIndex
    from flake8_django_safety.settings import Settings

_F = "django.db.models.F"
#: ``obj.f += ...`` / ``obj.f -= ...`` / ``obj.f = obj.f - ...`` / ``obj.f = max(obj.f - ...``: group 1 is ``obj``.
_SELF_UPDATE = re.compile(
    r"^[ \t]*([A-Za-z_][\w.]*)\.(\w+)[ \t]*(?:[-+]=|=[ \t]*(?:max\(|min\()?[ \t]*\1\.\2[ \t]*[-+])",
    re.MULTILINE,
)


@dataclass
class _Change:
    """``obj.f -= n``, waiting for ``obj.save()``."""

    receiver: str
    field: str
    statement: libcst.SimpleStatementLine | None
    node: libcst.CSTNode
    #: ``(operator, amount)`` when the change can become ``F("f") - n``.
    rewrite: tuple[str, libcst.BaseExpression] | None
    own_nodes: set[int]
    saved: bool = False
    read_after: bool = False
    #: The innermost loop around the change when the receiver was read before it.
    loop: libcst.CSTNode | None = None
    #: Saved inside that loop: a progress counter the loop keeps.
    saved_in_loop: bool = False
    #: ``if <parameter>:`` around the change: the parameter.
    guard: str | None = None


@dataclass
class _Frame:
    #: Receivers read from the database without a lock (locals, parameters).
    loaded: set[str] = field(default_factory=set)
    changes: list[_Change] = field(default_factory=list)
    #: ``obj.f`` set to a value of this function's own: a later ``obj.f += n`` is not stale.
    assigned: set[str] = field(default_factory=set)
    #: Parameters not rebound since the function began.
    params: set[str] = field(default_factory=set)
    #: Locals bound to a queryset -> whether it locks (``select_for_update()`` in its chain).
    querysets: dict[str, bool] = field(default_factory=dict)
    #: Locals read from ``Model.objects...`` / ``get_object_or_404(Model, ...)`` -> the model expression.
    models: dict[str, libcst.BaseExpression] = field(default_factory=dict)
    #: Receivers whose ``pk`` / ``id`` the function sets to None: saved as a new row.
    copies: set[str] = field(default_factory=set)
    #: Loops being visited, outermost first; and the loops each loaded local was read in.
    loops: list[libcst.CSTNode] = field(default_factory=list)
    bound_in: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: ``if <name>:`` statements being visited.
    ifs: list[libcst.If] = field(default_factory=list)
    function: libcst.FunctionDef | None = None
    #: The class the function is a method of (defined directly in its body).
    owner: libcst.ClassDef | None = None


class ReadModifyWriteRace(Rule):
    """
    ## What it does
    Flags an arithmetic update of a field from its own previous value
    (`obj.f += n`, `obj.f -= n`, `obj.f = obj.f - n`, `obj.f = max(obj.f - n, 0)`)
    on an instance read from the database without `select_for_update()`,
    when the same object is then saved in the function. Instances are locals
    bound by `.get()`, `.first()`, `.last()`, `.latest()`, `.earliest()`,
    `get_object_or_404()`, `get_or_create()`, iteration over a queryset,
    parameters, and objects reached through a relation of those
    (`item.product`).

    ## Why is this bad?
    Two requests that run the same code at the same time both read the old
    value, both compute their new value from it, and both save: the second
    save overwrites the first, and one sale, vote or withdrawal is lost.
    Nothing fails; the count is just wrong. The database can do the
    arithmetic itself, atomically, with an `F()` expression, or the row can be
    locked for the read with `select_for_update()` inside a transaction.

    ## Known problems
    Off by default. On 34 libraries (django-oscar, pretix, netbox, misago,
    django-helpdesk, django-ledger, ...) and 16 applications (tendenci,
    pretalx, ...) 35 of 37 reports were real lost updates (94.6%), but 21
    of the 35 need an unusual overlap (a double submit, two staff members at
    once) and most are in model methods of public API (docs/precision.md).
    The two false positives update `self` in a method whose callers load the
    row with a lock the rule cannot follow (a flag argument two calls away,
    a claim by a conditional `update()`). Enable it with
    `--extend-select=DJS303`.

    The rule cannot see whether the function only ever runs in one process at
    a time (a management command, a serialised task queue); silence those with
    `# noqa: DJS303`. Instances built in the same function (`Model(...)`) are
    left alone, and so are rows read with `select_for_update()`, updates that
    are not arithmetic (string building with `+=` included), fields the
    function itself set earlier (`obj.f = 0` ... `obj.f += n`), dates moved
    by a `timedelta()`, fields the model declares as a `DateField`,
    `DateTimeField`, `TimeField` or `DurationField`, or as a field that holds
    no number (`ArrayField`, `JSONField`, `CharField`, `TextField`, ...: `+=`
    builds a value there, and `F()` arithmetic does not apply), copies saved as a new
    row (`obj.pk = None`), progress counters (a row read before a loop whose
    field the loop bumps and saves on every pass), objects reached through
    `self` in a model method (`self.request.hits += 1`: usually created by
    the same flow), and saves whose literal `update_fields` leave the field
    out. Locks are followed through queryset locals
    (`rows = qs.select_for_update()`).

    For `self` in a method, or a parameter of a function, the rule reads the
    project's calls of that method or function (test modules left out; a call
    whose arguments do not fit the parameters belongs to another function of
    that name) and stays silent when every call hands in a row loaded by a
    `select_for_update()` queryset (also through a local every binding of which
    locks or refines one: `qs = qs.filter(...)`, `qs = qs[:n]`), or from the
    same manager or relation after such a queryset was evaluated, inside the
    caller's `atomic()` block;
    callers that pass on their own parameter or `self` are followed up to four
    calls up. A row loaded *before* the lock is still reported: the lock does
    not refresh it. It is also silent when the change sits under
    `if <parameter>:` and every call passes that parameter a literal `False`,
    `None` or `0` (or leaves a default that is one). A method nobody in the
    project calls is reported. Test modules and migrations are not linted.

    ## Example
    ```python
    from myapp.models import Product


    def sell(pk, quantity):
        product = Product.objects.get(pk=pk)
        product.stock -= quantity
        product.save()
    ```

    ## Use instead
    ```python
    from django.db.models import F

    from myapp.models import Product


    def sell(pk, quantity):
        product = Product.objects.get(pk=pk)
        product.stock = F("stock") - quantity
        product.save()
    ```

    ## Options
    - `django-safety-test-patterns`

    ## Fix safety
    The fix is unsafe: it rewrites `obj.f -= n` (or `obj.f = obj.f - n`) to
    `obj.f = F("f") - n`, adding `from django.db.models import F` when needed.
    The database then computes the value, so no update is lost, but until
    `obj.refresh_from_db()` the attribute holds an expression, not a number.
    The fix is therefore offered only when `obj.f` is not read again after the
    change in that function, and not for `max()` / `min()` clamps (use
    `Greatest()` / `Least()`, or a conditional `update()`).

    ## References
    - [Django: avoiding race conditions using `F()`](https://docs.djangoproject.com/en/stable/ref/models/expressions/#avoiding-race-conditions-using-f)
    - [Django: `select_for_update()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#select-for-update)
    """

    code = "DJS303"
    default_enabled = False
    name = "read-modify-write-race"
    message = (
        "Lost update: `{target}` is read, changed in Python and saved back, so two concurrent requests both read "
        "the old value and one update is lost; let the database do it with "
        '`.filter(pk=...).update({field}=F("{field}") {op} ...)` or lock the row with `select_for_update()`'
    )
    fix_safety = Safety.UNSAFE
    options = ("test_patterns",)

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.frames: list[_Frame] = [_Frame()]
        self.statements: dict[int, libcst.SimpleStatementLine] = {}
        #: Classes being visited, each with the number of frames open when it was entered.
        self.classes: list[tuple[libcst.ClassDef, int]] = []

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        # Migrations run once, in one process: nothing races them.
        return not settings.is_test_file(filename) and not settings.is_migration_file(filename)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        # A receiver that is both updated from its own value and saved.
        saved = text.saved_receivers
        return bool(saved) and any(match.group(1) in saved for match in _SELF_UPDATE.finditer(text.text))

    # -- what was read from the database -----------------------------------------

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        self.classes.append((node, len(self.frames)))

    def leave_ClassDef(self, original_node: libcst.ClassDef) -> None:
        self.classes.pop()

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        frame = _Frame(function=node)
        if self.classes and self.classes[-1][1] == len(self.frames):
            frame.owner = self.classes[-1][0]
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            frame.loaded.add(param.name.value)
            frame.params.add(param.name.value)
        self.frames.append(frame)

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        top_level = len(self.frames) == 2 and len(self.classes) <= 1
        frame = self.frames.pop()
        for change in frame.changes:
            if change.saved and not self._silent(change, frame, top_level):
                self._report(change)

    # -- loops and flags ------------------------------------------------------------

    def leave_For(self, original_node: libcst.For) -> None:
        self._leave_loop(original_node)

    def visit_While(self, node: libcst.While) -> None:
        self.frames[-1].loops.append(node)

    def leave_While(self, original_node: libcst.While) -> None:
        self._leave_loop(original_node)

    def _leave_loop(self, node: libcst.CSTNode) -> None:
        loops = self.frames[-1].loops
        if loops and loops[-1] is node:
            loops.pop()

    def visit_If(self, node: libcst.If) -> None:
        self.frames[-1].ifs.append(node)

    def leave_If(self, original_node: libcst.If) -> None:
        ifs = self.frames[-1].ifs
        if ifs and ifs[-1] is original_node:
            ifs.pop()

    def _bound(self, name: str) -> None:
        """``name`` now holds a row read from the database, in the loops open here."""
        frame = self.frames[-1]
        frame.loaded.add(name)
        frame.bound_in[name] = tuple(id(loop) for loop in frame.loops)

    def leave_Assign(self, original_node: libcst.Assign) -> None:
        frame = self.frames[-1]
        value = original_node.value
        for target in original_node.targets:
            target_node = target.target
            if isinstance(target_node, cst.Name):
                frame.params.discard(target_node.value)
                frame.models.pop(target_node.value, None)
                if self._reads_a_row(value):
                    self._bound(target_node.value)
                    model = _model_expression(value)
                    if model is not None:
                        frame.models[target_node.value] = model
                else:
                    frame.loaded.discard(target_node.value)
                if self._queryset(value):
                    frame.querysets[target_node.value] = self._locked(value)
                else:
                    frame.querysets.pop(target_node.value, None)
            elif isinstance(target_node, (cst.Tuple, cst.List)) and target_node.elements:
                first = target_node.elements[0].value
                if isinstance(first, cst.Name):
                    frame.params.discard(first.value)
                    frame.models.pop(first.value, None)
                    if _pair(value) and not self._locked(value):
                        self._bound(first.value)
                    else:
                        frame.loaded.discard(first.value)

    def visit_For(self, node: libcst.For) -> None:
        frame = self.frames[-1]
        frame.loops.append(node)
        if isinstance(node.target, cst.Name):
            frame.params.discard(node.target.value)
            frame.models.pop(node.target.value, None)
            if self._queryset(node.iter) and not self._locked(node.iter):
                self._bound(node.target.value)
                model = _model_expression(node.iter)
                if model is not None:
                    frame.models[node.target.value] = model
            else:
                frame.loaded.discard(node.target.value)

    def _reads_a_row(self, value: libcst.BaseExpression) -> bool:
        if isinstance(value, cst.Await):
            value = value.expression
        if isinstance(value, cst.Subscript):
            return _pair(value.value) and not self._locked(value.value)
        if not isinstance(value, cst.Call) or self._locked(value):
            return False
        func = value.func
        if isinstance(func, cst.Attribute) and func.attr.value in ROW_READS:
            return self._queryset(func.value)
        callee = self.context.imports.qualify(func) or ""
        return callee.endswith("get_object_or_404") and not (value.args and self._locked(value.args[0].value))

    def _queryset(self, node: libcst.BaseExpression) -> bool:
        """``Model.objects...`` / ``qs.filter(...)`` / ``obj.related.all()`` / a local
        bound to one: something a row comes from."""
        if isinstance(node, cst.Name):
            return node.value in self.frames[-1].querysets
        if isinstance(node, cst.Attribute) and node.attr.value == "objects":
            return True
        return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in QUERYSET_METHODS

    def _locked(self, node: libcst.BaseExpression) -> bool:
        """``select_for_update()`` in the chain, or at the root of the chain a
        local bound to a locking queryset."""
        if isinstance(node, cst.Await):
            node = node.expression
        calls, root = split_chain(node)
        if any(name == "select_for_update" for name, _ in calls):
            return True
        return isinstance(root, cst.Name) and self.frames[-1].querysets.get(root.value, False)

    def _loaded_key(self, node: libcst.BaseExpression) -> str | None:
        """``obj`` / ``item.product`` when it names a row read without a lock."""
        name = cst.helpers.get_full_name_for_node(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        if name is None or name.partition(".")[0] not in self.frames[-1].loaded:
            return None
        if name.startswith("self."):
            # ``self.request.hits += 1`` in a model method: the related row is
            # usually the one the same flow just created (django-silk).
            return None
        return name

    # -- changes and saves --------------------------------------------------------

    def visit_SimpleStatementLine(self, node: libcst.SimpleStatementLine) -> None:
        if len(node.body) == 1:
            self.statements[id(node.body[0])] = node

    def visit_AugAssign(self, node: libcst.AugAssign) -> None:
        operator = {cst.AddAssign: "+", cst.SubtractAssign: "-"}.get(type(node.operator))
        if operator is None or not isinstance(node.target, cst.Attribute):
            return
        self._changed(node, node.target, (operator, node.value))

    def visit_Assign(self, node: libcst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Attribute):
            return
        target = node.targets[0].target
        value = node.value
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in ("max", "min"):
            if any(_self_arithmetic(arg.value, target) for arg in value.args):
                self._changed(node, target, None)
            return
        rewrite = _self_arithmetic(value, target)
        if rewrite is not None:
            self._changed(node, target, rewrite)
        else:
            name = cst.helpers.get_full_name_for_node(target)
            if name is not None:
                self.frames[-1].assigned.add(name)
                if target.attr.value in ("pk", "id") and isinstance(value, cst.Name) and value.value == "None":
                    # ``obj.pk = None`` then ``obj.save()``: a copy saved as a new row.
                    self.frames[-1].copies.add(name.rpartition(".")[0])

    def _changed(
        self,
        node: libcst.CSTNode,
        target: libcst.Attribute,
        rewrite: tuple[str, libcst.BaseExpression] | None,
    ) -> None:
        receiver = self._loaded_key(target.value)
        if (
            receiver is None
            or _builds_text(node)
            or _shifts_time(node)
            or f"{receiver}.{target.attr.value}" in self.frames[-1].assigned
        ):
            return
        frame = self.frames[-1]
        own = {id(inner) for inner in descendants(node)}
        change = _Change(receiver, target.attr.value, self.statements.get(id(node)), node, rewrite, own)
        root = receiver.partition(".")[0]
        if frame.loops and id(frame.loops[-1]) not in frame.bound_in.get(root, ()):
            change.loop = frame.loops[-1]
        for statement in reversed(frame.ifs):
            test = statement.test
            if isinstance(test, cst.Name) and test.value in frame.params and id(node) in {
                id(inner) for inner in descendants(statement.body)
            }:
                change.guard = test.value
                break
        frame.changes.append(change)

    def visit_Attribute(self, node: libcst.Attribute) -> None:
        changes = self.frames[-1].changes
        if not changes:
            return
        name = cst.helpers.get_full_name_for_node(node)
        for change in changes:
            if id(node) not in change.own_nodes and name == f"{change.receiver}.{change.field}":
                change.read_after = True

    def visit_Call(self, node: libcst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in SAVES):
            return
        receiver = cst.helpers.get_full_name_for_node(func.value)
        written = field_names_argument(node, "update_fields")
        frame = self.frames[-1]
        for change in frame.changes:
            if change.receiver == receiver and (written is None or change.field in written):
                change.saved = True
                if change.loop is not None and any(loop is change.loop for loop in frame.loops):
                    change.saved_in_loop = True

    # -- what the function alone cannot tell -----------------------------------------

    def _silent(self, change: _Change, frame: _Frame, top_level: bool) -> bool:
        """A saved change that loses no update: a progress counter, a copy saved as
        a new row, a date or time field, a branch no caller takes, or a receiver
        every caller locked."""
        root = change.receiver.partition(".")[0]
        if change.saved_in_loop or change.receiver in frame.copies:
            return True
        project = self.context.project
        if project is None:
            return False
        if self._time_field(change, frame, project):
            return True
        if not top_level or frame.function is None or "." in change.receiver:
            return False
        from flake8_django_safety import call_sites

        signature = self._signature(frame, project)
        if signature is None:
            return False
        settings = self.context.settings
        if change.guard is not None and call_sites.never_passed(project, settings, signature, change.guard):
            return True
        if root == "self" and signature.owner is not None:
            return call_sites.receivers_locked(project, settings, signature, None)
        if root in frame.params and root in signature.params + tuple(signature.kwonly):
            return call_sites.receivers_locked(project, settings, signature, root)
        return False

    def _time_field(self, change: _Change, frame: _Frame, project: ProjectIndex) -> bool:
        """The field is a date, time or duration of the receiver's model (moving it
        counts nothing), or holds no number (``+=`` builds a value)."""
        ref = None
        if change.receiver == "self" and frame.owner is not None and self.context.module_name:
            ref = project.resolve_class(f"{self.context.module_name}.{frame.owner.name.value}")
        elif change.receiver in frame.models:
            ref = resolve_class(self.context, frame.models[change.receiver])
        if ref is None:
            return False
        for item in project.ancestry(ref):
            if not isinstance(item, str):
                for facts in item.facts.fields:
                    if facts.name == change.field:
                        return facts.field_class.rpartition(".")[2] in _TIME_FIELDS | _NOT_NUMBERS
        return False

    def _signature(self, frame: _Frame, project: ProjectIndex) -> Signature | None:
        from flake8_django_safety.call_sites import Signature

        function = frame.function
        assert function is not None
        owner = None
        params = function.params
        positional = [*params.posonly_params, *params.params]
        static = any(
            isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in function.decorators
        )
        if frame.owner is not None and not static:
            if not positional or not self.context.module_name:
                return None
            qualname = f"{self.context.module_name}.{frame.owner.name.value}"
            ref = project.resolve_class(qualname)
            owner = qualname if ref is None else ref.qualname
            positional = positional[1:]
        names = tuple(param.name.value for param in positional)
        off = frozenset(
            param.name.value
            for param in (*positional, *params.kwonly_params)
            if param.default is not None and _literally_off(param.default)
        )
        return Signature(
            function.name.value,
            names,
            len([param for param in positional if param.default is None]),
            frozenset(param.name.value for param in params.kwonly_params),
            isinstance(params.star_arg, cst.Param),
            params.star_kwarg is not None,
            owner,
            off,
        )

    def _report(self, change: _Change) -> None:
        operator = change.rewrite[0] if change.rewrite is not None else "-"
        message = self.message.format(target=f"{change.receiver}.{change.field}", field=change.field, op=operator)
        self.report(change.node, message, self._fix(change))

    def _fix(self, change: _Change) -> Fix | None:
        if change.rewrite is None or change.read_after or change.statement is None or change.loop is not None:
            # In a loop around the change but not around the read, ``F("f") + n``
            # would be assigned again on each pass and keep only the last ``n``.
            return None
        found = self.context.imports.reference_for_fix(_F, "django.db.models", "F")
        if found is None:
            return None
        reference, requests = found
        operator, amount = change.rewrite
        expression = cst.BinaryOperation(
            left=cst.Call(
                func=cst.parse_expression(reference),
                args=[cst.Arg(cst.SimpleString(f'"{change.field}"'))],
            ),
            operator=cst.Add() if operator == "+" else cst.Subtract(),
            right=_parenthesised(amount),
        )
        assign = cst.Assign(
            targets=[cst.AssignTarget(cst.parse_expression(f"{change.receiver}.{change.field}"))],
            value=expression,
        )
        replacement = change.statement.with_changes(body=[assign])
        return Fix(f'Update `{change.field}` with `F("{change.field}")`', Safety.UNSAFE, change.statement, replacement, requests)


def _self_arithmetic(
    value: libcst.BaseExpression, target: libcst.Attribute
) -> tuple[str, libcst.BaseExpression] | None:
    """``obj.f - n`` / ``obj.f + n`` / ``n + obj.f`` for target ``obj.f``: (operator, n)."""
    if not isinstance(value, cst.BinaryOperation):
        return None
    operator = {cst.Add: "+", cst.Subtract: "-"}.get(type(value.operator))
    if operator is None:
        return None
    if value.left.deep_equals(target):
        return operator, value.right
    if operator == "+" and value.right.deep_equals(target):
        return operator, value.left
    return None


def _builds_text(node: libcst.CSTNode) -> bool:
    """``obj.text += "\\n" + more``: string building, not a counter. Strings inside
    calls and subscripts (``total += row["amount"]``) do not count."""
    if isinstance(node, (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)):
        return True
    if isinstance(node, (cst.Call, cst.Subscript)):
        return False
    return any(_builds_text(child) for child in node.children)


#: Calls that build a time span: ``obj.expires += timedelta(days=1)`` moves a date, it counts nothing.
_TIME_SPANS = frozenset({"timedelta", "relativedelta"})


def _shifts_time(node: libcst.CSTNode) -> bool:
    if isinstance(node, cst.Call):
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
        if name in _TIME_SPANS:
            return True
    return any(_shifts_time(child) for child in node.children)


def _parenthesised(node: libcst.BaseExpression) -> libcst.BaseExpression:
    """``F("f") - (a - b)``: an operation on the right keeps its meaning."""
    if isinstance(node, (cst.BinaryOperation, cst.BooleanOperation, cst.IfExp, cst.Lambda)) and not node.lpar:
        return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node




#: Model fields whose arithmetic moves a moment or a span, not a count.
_TIME_FIELDS = frozenset({"DateField", "DateTimeField", "TimeField", "DurationField"})
#: Model fields whose ``+=`` builds a value instead of counting: the suggested
#: ``F("f") + ...`` is no arithmetic the database does on them (PostgreSQL has
#: no ``+`` for arrays or text).
_NOT_NUMBERS = frozenset({
    "ArrayField", "JSONField", "HStoreField", "CharField", "TextField", "SlugField",
    "EmailField", "URLField", "BinaryField",
})  # fmt: skip


def _literally_off(node: libcst.BaseExpression) -> bool:
    """``False`` / ``None`` / ``0``."""
    return (isinstance(node, cst.Name) and node.value in ("False", "None")) or (
        isinstance(node, cst.Integer) and node.value == "0"
    )


def _model_expression(value: libcst.BaseExpression) -> libcst.BaseExpression | None:
    """``Model`` of ``Model.objects....get()``, ``Model.objects.filter(...)`` (iterated)
    or ``get_object_or_404(Model, ...)``."""
    if isinstance(value, cst.Await):
        value = value.expression
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in ROW_READS:
        value = value.func.value
    elif isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "get_object_or_404":
        first = value.args[0].value if value.args else None
        if isinstance(first, (cst.Name, cst.Attribute)):
            return first
        return None if first is None else _model_expression(first)
    found = model_of_queryset(value)
    if found is None:
        return None
    model = found[0]
    return model if isinstance(model, (cst.Name, cst.Attribute)) else None


def _pair(node: libcst.BaseExpression) -> bool:
    if isinstance(node, cst.Await):
        node = node.expression
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in PAIR_READS

