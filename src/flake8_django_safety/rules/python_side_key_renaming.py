from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.names import NameUse, name_use
from flake8_django_safety.rule import Fix, ImportRequest, Rule, Safety
from flake8_django_safety.syntax import comma_separated, descendants, has_comment, string_literal
from flake8_django_safety.valuesrows import ValuesRows, concrete_columns, model_names, rows_model, values_rows

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ClassRef
    from flake8_django_safety.settings import Settings

#: ``row["key"]`` somewhere in the text.
_ROW_KEY = re.compile(r"\w\[[\"'][\w.]+[\"']\]")
#: Calls that may wrap a generator expression of rows without changing what it yields.
_COLLECTORS = frozenset({"list", "tuple"})


@dataclass(frozen=True)
class _Rebuild:
    """One place where ``values()`` rows are rebuilt as dicts."""

    #: What is reported: the comprehension, or the ``for`` statement.
    node: libcst.CSTNode
    #: ``(key, row key)`` of each entry of the dict built per row, in order.
    entries: list[tuple[str, str]]
    #: The rows, as iterated (a chain, or a local bound to one).
    iterable: libcst.BaseExpression
    #: The loop variable.
    variable: str


class PythonSideKeyRenaming(Rule):
    """
    ## What it does
    Flags `values()` rows rebuilt in Python only to rename their keys: a list
    comprehension, a generator expression, or a `for` loop appending to a
    list, over the rows of a queryset's `values(...)` (inline, or through a
    local bound once in the function), that builds for each row a dict literal
    or `dict(...)` call whose every value is a plain `row["key"]` and whose
    keys differ from the row's keys in at least one place.

    ## Why is this bad?
    `values()` already returns one dict per row. Copying each into a new dict
    to change key names runs a Python loop over every row, allocates every row
    twice, and hides from the reader that the result is just the query's rows.
    The database can name the columns itself: `values(name=F("title"))`
    returns rows keyed `name`, and the result stays a queryset that can still
    be filtered, sliced and paginated.

    ## Known problems
    Only dicts whose values are all plain `row["key"]` lookups are flagged: any
    computed value (`row["price"] * 100`, a constant, a call) is real Python
    work, and the rule stays silent. Silent too when the row key is not one
    the `values()` call produces, when a renamed key would clash with a field,
    column or reverse relation of a project model (Django refuses such an
    alias), when a key is not a Python identifier, and on `values_list()`.
    Test modules and migrations are not linted.

    ## Example
    ```python
    from django.db import models


    class Article(models.Model):
        title = models.CharField(max_length=200)


    def choices():
        return [{"id": row["id"], "label": row["title"]} for row in Article.objects.values("id", "title")]
    ```

    ## Use instead
    ```python
    from django.db import models
    from django.db.models import F


    class Article(models.Model):
        title = models.CharField(max_length=200)


    def choices():
        return list(Article.objects.values("id", label=F("title")))
    ```

    ## Options
    - `django-safety-test-patterns`

    ## Fix safety
    The fix replaces the comprehension (or the list and its loop) with
    `list(<queryset>.values(<kept keys>, new=F("old")))`, adding `from
    django.db.models import F`; a loop appending to a list built earlier
    becomes `.extend(...)`. It returns the same rows with the same keys and
    values: the test suite runs every case of the fix snapshots against a
    SQLite database before and after the fix, nullable relations and
    many-to-many lookups included.

    It is safe when the model is a project model whose fields are all known,
    every call before `values()` is one Django defines, and the keys keep
    their order (Django puts positional fields before keyword aliases, so a
    kept key after a renamed one moves). Otherwise it is unsafe: on a related
    manager, a custom queryset method or an unknown model the alias might
    clash with a field Django knows (a `ValueError` when the query runs); with
    keys reordered, the dicts are equal but serialise in another order. A
    name that another model's relation could give this model in lookups also
    makes the fix unsafe.

    There is no fix when the rows are grouped by a later `annotate()`, when
    the chain holds `distinct()` (dropping a column changes which rows are
    distinct), when the local holding the queryset is read anywhere else, or
    when the code to replace holds a comment.

    ## References
    - [Django: `values()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#values)
    - [Django: `F()` expressions](https://docs.djangoproject.com/en/stable/ref/models/expressions/#f-expressions)
    """

    code = "DJS501"
    name = "python-side-key-renaming"
    message = "Keys renamed in Python after `values()` ({renames}); let the database name them: {suggestion}"
    fix_safety = Safety.SAFE
    sometimes_unsafe = True
    options = ("test_patterns",)

    def __init__(self, context):  # type: ignore[no-untyped-def]
        super().__init__(context)
        #: The enclosing functions (the module at the bottom).
        self.scopes: list[libcst.CSTNode] = [context.module]
        #: Generator expressions that are the only argument of ``list()`` / ``tuple()``.
        self.collected: dict[int, libcst.Call] = {}
        #: ``name_use`` answers, by function and name: each walks the whole function.
        self.uses: dict[tuple[int, str], NameUse] = {}

    def use(self, scope: libcst.CSTNode, name: str) -> NameUse:
        """How ``scope`` binds and reads ``name``, worked out once."""
        key = (id(scope), name)
        if key not in self.uses:
            self.uses[key] = name_use(scope, name)
        return self.uses[key]

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return not settings.is_test_file(filename) and not settings.is_migration_file(filename)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return ".values(" in text.text and _ROW_KEY.search(text.text) is not None

    # -- where rows are rebuilt ----------------------------------------------------

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        self.scopes.append(node)

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_Call(self, node: libcst.Call) -> None:
        if (
            isinstance(node.func, cst.Name)
            and node.func.value in _COLLECTORS
            and len(node.args) == 1
            and isinstance(node.args[0].value, cst.GeneratorExp)
            and not node.args[0].star
            and not node.args[0].keyword
        ):
            self.collected[id(node.args[0].value)] = node

    def visit_ListComp(self, node: libcst.ListComp) -> None:
        self._comprehension(node)

    def visit_GeneratorExp(self, node: libcst.GeneratorExp) -> None:
        self._comprehension(node)

    def _comprehension(self, node: libcst.ListComp | libcst.GeneratorExp) -> None:
        loop = node.for_in
        if loop.inner_for_in is not None or loop.ifs or loop.asynchronous or not isinstance(loop.target, cst.Name):
            return
        entries = _entries(node.elt, loop.target.value)
        if entries is not None:
            self._check(_Rebuild(node, entries, loop.iter, loop.target.value))

    def visit_For(self, node: libcst.For) -> None:
        if node.orelse is not None or node.asynchronous or not isinstance(node.target, cst.Name):
            return
        appended = _single_append(node)
        if appended is None:
            return
        _, element = appended
        entries = _entries(element, node.target.value)
        if entries is not None:
            self._check(_Rebuild(node, entries, node.iter, node.target.value))

    # -- deciding --------------------------------------------------------------------

    def _check(self, rebuild: _Rebuild) -> None:
        if all(key == source for key, source in rebuild.entries):
            return
        if len({key for key, _ in rebuild.entries}) != len(rebuild.entries):
            return  # a key given twice: the later one wins, which SQL cannot say
        scope = self.scopes[-1]
        iterable = rebuild.iterable
        if isinstance(iterable, cst.Name):
            bound = self.use(scope, iterable.value).bound_once
            if bound is None:
                return
            rows = values_rows(bound)
        else:
            rows = values_rows(iterable)
        if rows is None:
            return
        if isinstance(rebuild.node, cst.For) and not self._appends_to_list(rebuild.node, scope):
            return
        model = rows_model(self.context, rows)
        keys = rows.keys()
        if keys is None:
            keys = None if model is None else concrete_columns(self.context, model)
            if keys is None:
                return  # ``values()`` of an unknown model: maybe not a queryset at all
        if any(source not in keys for _, source in rebuild.entries):
            return
        renamed = [(key, source) for key, source in rebuild.entries if key != source]
        if any(not key.isidentifier() or keyword.iskeyword(key) or "__" in key for key, _ in renamed):
            return
        if any(key in rows.fields for key, _ in renamed) or (
            model is not None and any(key in model_names(self.context, model) for key, _ in renamed)
        ):
            return  # Django refuses an alias that names a field: SQL cannot rename this way
        suggestion, fix = self._suggest_and_fix(rebuild, rows, model, scope)
        renames = ", ".join(f'`"{source}"` as `"{key}"`' for key, source in renamed[:3])
        if len(renamed) > 3:
            renames += ", …"
        self.report(rebuild.node, self.message.format(renames=renames, suggestion=suggestion), fix)

    def _appends_to_list(self, loop: libcst.For, scope: libcst.CSTNode) -> bool:
        """The loop's ``out.append(...)`` goes to a local list (``out = []``, ``list(...)``)."""
        appended = _single_append(loop)
        assert appended is not None
        use = self.use(scope, appended[0])
        return bool(use.assigned) and not use.other_bindings and all(_a_list(value) for value in use.assigned)

    def _suggest_and_fix(
        self, rebuild: _Rebuild, rows: ValuesRows, model: ClassRef | None, scope: libcst.CSTNode
    ) -> tuple[str, Fix | None]:
        """The ``values(...)`` call to write, and the fix that writes it (None when
        the rows are grouped or something else forbids it)."""
        reference = self.context.imports.reference_for_fix("django.db.models.F", "django.db.models", "F")
        f_name = reference[0] if reference is not None else "F"
        positional: list[libcst.Arg] = []
        keywords: list[libcst.Arg] = []
        order_kept = True
        grouped = [(key, source) for key, source in rebuild.entries if source in rows.grouped]
        for key, source in rebuild.entries:
            if source in rows.grouped:
                continue
            if source in rows.expressions:
                keywords.append(_keyword(key, rows.expressions[source].value))
            elif key == source:
                positional.append(cst.Arg(string_literal(source)))
                order_kept = order_kept and not keywords
            else:
                keywords.append(_keyword(key, cst.Call(cst.parse_expression(f_name), [cst.Arg(string_literal(source))])))
        args = comma_separated([*positional, *keywords])
        new_call = rows.call.with_changes(args=args)
        suggestion = f"`.{cst.Module([]).code_for_node(new_call.with_changes(func=cst.Name('values')))}`"
        renamed_groups = [(key, source) for key, source in grouped if key != source]
        if renamed_groups:
            suggestion += ", and " + ", ".join(f"`annotate({key}=...)` in place of `{source}`" for key, source in renamed_groups)
            return suggestion, None
        if grouped or reference is None or self._forbids_fix(rebuild, rows, scope):
            return suggestion, None
        aliases = [arg.keyword.value for arg in keywords if arg.keyword is not None]
        safe = (
            model is not None
            and order_kept
            and not any(name in ("annotate", "alias", "extra") for name, _ in rows.before)
            and not set(aliases) & self.context.project.lookup_names()  # type: ignore[union-attr]
        )
        fix = self._fix(rebuild, rows, new_call, scope, reference[1], Safety.SAFE if safe else Safety.UNSAFE)
        return suggestion, fix

    def _forbids_fix(self, rebuild: _Rebuild, rows: ValuesRows, scope: libcst.CSTNode) -> bool:
        if any(name == "distinct" for name, _ in (*rows.before, *rows.after)):
            return True
        if has_comment(rebuild.node.body if isinstance(rebuild.node, cst.For) else rebuild.node, keep=_header(rebuild.node)):
            return True
        if isinstance(rebuild.iterable, cst.Name):
            # The local is rewritten in place: nothing else may read it.
            if len(self.use(scope, rebuild.iterable.value).reads) != 1 or scope is self.context.module:
                return True
        if isinstance(rebuild.node, cst.For):
            inside = {id(node) for node in descendants(rebuild.node)}
            if any(id(read) not in inside for read in self.use(scope, rebuild.variable).reads):
                return True  # the loop variable is read after the loop
        return isinstance(rebuild.node, cst.GeneratorExp) and id(rebuild.node) not in self.collected

    def _fix(
        self,
        rebuild: _Rebuild,
        rows: ValuesRows,
        new_call: libcst.Call,
        scope: libcst.CSTNode,
        imports: tuple[ImportRequest, ...],
        safety: Safety,
    ) -> Fix:
        edits: dict[int, tuple[libcst.CSTNode, libcst.CSTNode | libcst.RemovalSentinel]] = {}
        named = isinstance(rebuild.iterable, cst.Name)
        if named:
            edits[id(rows.call)] = (rows.call, new_call)
            new_rows: libcst.BaseExpression = rebuild.iterable
        else:
            new_rows = _replace(rows.expression, {id(rows.call): new_call})
        node = rebuild.node
        if isinstance(node, cst.For):
            target = _single_append(node)
            assert target is not None
            block, index = _block_of(scope, node)
            before = block[index - 1] if index > 0 else None
            if before is not None and _assigns_empty_list(before, target[0]) and not node.leading_lines:
                assignment = cst.Assign([cst.AssignTarget(cst.Name(target[0]))], _call("list", new_rows))
                edits[id(before)] = (before, before.with_changes(body=[assignment], trailing_whitespace=node.body.header))
                edits[id(node)] = (node, cst.RemoveFromParent())
            else:
                statement = cst.Expr(_call(f"{target[0]}.extend", new_rows))
                line = cst.SimpleStatementLine([statement], leading_lines=node.leading_lines, trailing_whitespace=node.body.header)
                edits[id(node)] = (node, line)
        else:
            wrapper = self.collected.get(id(node))
            if wrapper is not None:
                edits[id(wrapper)] = (wrapper, _call(wrapper.func.value, new_rows))  # type: ignore[attr-defined]
            else:
                edits[id(node)] = (node, _call("list", new_rows))
        title = "Let `values()` name the keys"
        if len(edits) == 1:
            (replaced, replacement), = edits.values()
            return Fix(title, safety, replaced, replacement, imports)  # type: ignore[arg-type]
        return Fix(title, safety, scope, _replace(scope, {key: new for key, (_, new) in edits.items()}), imports)


# -- shapes ---------------------------------------------------------------------------


def _entries(element: libcst.BaseExpression, variable: str) -> list[tuple[str, str]] | None:
    """``{"label": row["title"], ...}`` or ``dict(label=row["title"], ...)``:
    (key, row key) pairs; None when any value is more than ``row["key"]``."""
    pairs: list[tuple[libcst.BaseExpression | str, libcst.BaseExpression]] = []
    if isinstance(element, cst.Dict):
        for item in element.elements:
            if not isinstance(item, cst.DictElement):
                return None
            pairs.append((item.key, item.value))
    elif isinstance(element, cst.Call) and isinstance(element.func, cst.Name) and element.func.value == "dict":
        for arg in element.args:
            if arg.keyword is None or arg.star:
                return None
            pairs.append((arg.keyword.value, arg.value))
    else:
        return None
    found: list[tuple[str, str]] = []
    for key, value in pairs:
        name = key if isinstance(key, str) else _literal(key)
        source = _row_key(value, variable)
        if name is None or source is None:
            return None
        found.append((name, source))
    return found or None


def _row_key(node: libcst.BaseExpression, variable: str) -> str | None:
    if (
        isinstance(node, cst.Subscript)
        and isinstance(node.value, cst.Name)
        and node.value.value == variable
        and len(node.slice) == 1
        and isinstance(node.slice[0].slice, cst.Index)
    ):
        return _literal(node.slice[0].slice.value)
    return None


def _literal(node: libcst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _single_append(loop: libcst.For) -> tuple[str, libcst.BaseExpression] | None:
    """``for row in rows: out.append(element)``: (``out``, ``element``)."""
    body = loop.body
    if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
        return None
    line = body.body[0]
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or not isinstance(line.body[0], cst.Expr):
        return None
    call = line.body[0].value
    if (
        isinstance(call, cst.Call)
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "append"
        and isinstance(call.func.value, cst.Name)
        and len(call.args) == 1
        and call.args[0].keyword is None
        and not call.args[0].star
    ):
        return call.func.value.value, call.args[0].value
    return None


def _empty_list(node: libcst.BaseExpression) -> bool:
    return (isinstance(node, cst.List) and not node.elements) or (
        isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "list" and not node.args
    )


def _a_list(node: libcst.BaseExpression) -> bool:
    """A list display or ``list(...)``: something ``.append`` and ``.extend`` work on as on a list."""
    return isinstance(node, cst.List) or (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "list")


def _assigns_empty_list(statement: libcst.CSTNode, name: str) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    assign = statement.body[0]
    return (
        isinstance(assign, cst.Assign)
        and len(assign.targets) == 1
        and isinstance(assign.targets[0].target, cst.Name)
        and assign.targets[0].target.value == name
        and _empty_list(assign.value)
    )


def _block_of(scope: libcst.CSTNode, statement: libcst.CSTNode) -> tuple[list[libcst.CSTNode], int]:
    """The statement list holding ``statement``, and its index there."""
    for node in descendants(scope):
        body = getattr(node, "body", None)
        if isinstance(body, (list, tuple)):
            for index, child in enumerate(body):
                if child is statement:
                    return list(body), index
    raise LookupError("statement not in scope")


def _header(node: libcst.CSTNode) -> libcst.CSTNode | None:
    """The end of a ``for ...:`` line, whose comment the fix carries over."""
    return node.body.header if isinstance(node, cst.For) and isinstance(node.body, cst.IndentedBlock) else None


# -- building code ----------------------------------------------------------------------


def _keyword(key: str, value: libcst.BaseExpression) -> libcst.Arg:
    return cst.Arg(
        value,
        keyword=cst.Name(key),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )


def _call(function: str, argument: libcst.BaseExpression) -> libcst.Call:
    return cst.Call(cst.parse_expression(function), [cst.Arg(argument)])


def _replace(root: libcst.CSTNode, edits: dict[int, libcst.CSTNode | libcst.RemovalSentinel]) -> libcst.CSTNode:
    """``root`` with the nodes in ``edits`` (by identity) replaced."""

    class Swap(cst.CSTTransformer):
        def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
            return edits.get(id(original_node), updated_node)

    return root.visit(Swap())
