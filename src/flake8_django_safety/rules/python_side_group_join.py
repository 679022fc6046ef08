from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.loops import COLUMN_RELATIONS, MANY, Chain, Loop, QuerysetLoops, literal_lookups
from flake8_django_safety.rule import FileContext

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ClassRef
    from flake8_django_safety.settings import Settings

AGGREGATES = frozenset({"Max", "Min", "Sum", "Count", "Avg"})
#: Calls that decide which rows a queryset holds; the two querysets must agree on them.
RESTRICTING = frozenset({"filter", "exclude", "using"})
#: Calls of the loop's queryset that keep its rows (a slice does too: a window is computed before LIMIT).
ROW_KEEPING = frozenset(
    {"all", "order_by", "select_related", "prefetch_related", "only", "defer", "reverse",
     "select_for_update", "iterator", "annotate", "alias", "values"}
)  # fmt: skip
#: Aggregate options a window cannot take: `COUNT(DISTINCT ...) OVER` and
#: `COALESCE(...) OVER` are rejected by the databases.
NOT_IN_WINDOW = frozenset({"distinct", "default"})


@dataclass
class GroupAggregate:
    """A local dict ``{key value: aggregate}`` built from ``values(key).annotate(alias=Agg(...))``."""

    model: ClassRef
    key: str
    #: The ``values()`` argument as written, quotes included.
    key_code: str
    alias: str
    aggregate: libcst.Call
    #: The restricting calls of the aggregate's queryset, normalised.
    rows: tuple[str, ...]
    #: Joins found so far: the node to report and its message.
    joins: list[tuple[libcst.CSTNode, str]] = field(default_factory=list)
    #: The dict is read some other way too (returned, iterated, passed on).
    used_elsewhere: bool = False


class PythonSideGroupJoin(QuerysetLoops):
    """
    ## What it does
    Flags a per-group aggregate that one query computes
    (`.values("post").annotate(last=Max("created"))`, turned into a dict) and
    that a loop over the same model's queryset then joins back onto its rows
    in Python (`last[comment.post_id]`, `last.get(comment.post_id)`,
    `last[row["post"]]` for `values()` rows). The loop may run over the
    queryset or over a `list()` of it made in the same function. The message
    gives the `Window()` annotation that computes the same value on each row.

    Recognised dicts: `{r["post"]: r["last"] for r in <aggregate>}`,
    `dict(<aggregate>.values_list("post", "last"))`,
    `{k: v for k, v in <aggregate>.values_list("post", "last")}`, and a
    `last = {}` that a `for r in <aggregate>: last[r["post"]] = r["last"]`
    loop fills. The aggregate is `Max`, `Min`, `Sum`, `Count` or `Avg` from
    `django.db.models`.

    ## Why is this bad?
    Two queries and a hand-written join do what one query does:
    `.annotate(last=Window(Max("created"), partition_by=F("post")))` puts the
    group's value on every row. The result is still a queryset, so it can be
    filtered, ordered, paginated or passed on, and the value cannot drift from
    the rows it was computed for between the two queries.

    `.get(key, default)` is reported too: the default only matters for a row
    whose group the aggregate query did not see, and over the same rows every
    group holds at least the row itself, so a window never needs it.

    ## Known problems
    Reported only when the window gives exactly the dict's numbers: the
    aggregate's queryset and the loop's queryset are built from the same
    project model, their `filter()`, `exclude()` and `using()` calls are the
    same code in the same order (other calls of the loop's queryset, and
    slicing it, do not change what a window sees), the aggregate groups by one
    field of the model itself, has no `distinct=` or `default=` (which a window
    cannot take), and the dict is used for nothing but these lookups. Silent
    on `distinct()`, `union()`, custom queryset methods, and anything the
    rule cannot resolve. Test modules and migrations are not linted.

    ## Example
    ```python
    from django.db import models
    from django.db.models import Max


    class Comment(models.Model):
        post = models.ForeignKey("Post", on_delete=models.CASCADE)
        created = models.DateTimeField()


    def latest_in_thread():
        latest = {
            row["post"]: row["last"]
            for row in Comment.objects.values("post").annotate(last=Max("created"))
        }
        return [(c.pk, latest[c.post_id]) for c in Comment.objects.all()]
    ```

    ## Use instead
    ```python
    from django.db import models
    from django.db.models import F, Max, Window


    class Comment(models.Model):
        post = models.ForeignKey("Post", on_delete=models.CASCADE)
        created = models.DateTimeField()


    def latest_in_thread():
        comments = Comment.objects.annotate(last=Window(Max("created"), partition_by=F("post")))
        return [(c.pk, c.last) for c in comments]
    ```

    ## Options
    - `django-safety-test-patterns`

    ## References
    - [Django: window functions](https://docs.djangoproject.com/en/stable/ref/models/expressions/#window-functions)
    - [Django: aggregation with `values()`](https://docs.djangoproject.com/en/stable/topics/db/aggregation/#values)
    """

    code = "DJS601"
    name = "python-side-group-join"
    message = (
        "Python-side group join: `{join}` looks up a per-`{key}` `{function}()` from a second query; "
        "annotate the loop's queryset with `{suggestion}` and read `{read}`: one query, rows kept, still chainable"
    )
    options = ("test_patterns",)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        source = text.text
        return (
            ".annotate(" in source
            and ".values" in source
            and any(f"{name}(" in source for name in AGGREGATES)
        )

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        #: Per function: locals bound to a group aggregate dict.
        self.groups: list[dict[str, GroupAggregate]] = [{}]
        #: Per function: every group aggregate bound there, decided when the function ends.
        self.made: list[list[GroupAggregate]] = [[]]
        #: Per function: locals bound to an empty dict (a loop may fill it).
        self.empty: list[set[str]] = [set()]
        #: Names that are no read of a dict: the joins' own, attribute and keyword names.
        self.not_reads: set[int] = set()

    # -- functions --------------------------------------------------------------

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.groups.append({})
        self.made.append([])
        self.empty.append(set())

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        self._conclude(self.made.pop())
        self.groups.pop()
        self.empty.pop()
        super().leave_FunctionDef(original_node)

    def leave_Module(self, original_node: libcst.Module) -> None:
        self._conclude(self.made[0])

    def _conclude(self, made: list[GroupAggregate]) -> None:
        for group in made:
            if not group.used_elsewhere:
                for node, message in group.joins:
                    self.report(node, message)

    # -- querysets and dicts ------------------------------------------------------

    def chain_of(self, node: libcst.BaseExpression) -> Chain | None:
        """A queryset, or a ``list()`` of one (the same rows)."""
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name)
            and node.func.value == "list"
            and len(node.args) == 1
            and node.args[0].keyword is None
            and not node.args[0].star
        ):
            node = node.args[0].value
        return super().chain_of(node)

    def leave_Assign(self, original_node: libcst.Assign) -> None:
        super().leave_Assign(original_node)
        value = original_node.value
        group = self._dict_of(value)
        for target in original_node.targets:
            if not isinstance(target.target, cst.Name):
                continue
            name = target.target.value
            self.groups[-1].pop(name, None)
            self.empty[-1].discard(name)
            if group is not None:
                self.groups[-1][name] = group
                self.made[-1].append(group)
            elif isinstance(value, cst.Dict) and not value.elements:
                self.empty[-1].add(name)

    def visit_AugAssign(self, node: libcst.AugAssign) -> None:
        self.stores.add(id(node.target))

    def _dict_of(self, node: libcst.BaseExpression) -> GroupAggregate | None:
        """The group aggregate a dict expression builds, in one of the recognised forms."""
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict":
            if len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star:
                return self._aggregate(node.args[0].value, pairs=True)
            return None
        if not isinstance(node, cst.DictComp):
            return None
        loop = node.for_in
        if loop.ifs or loop.inner_for_in is not None or loop.asynchronous is not None:
            return None
        target = loop.target
        if isinstance(target, cst.Name):
            group = self._aggregate(loop.iter, pairs=False)
            if group is None or not _is_item(node.key, target.value, group.key):
                return None
            return group if _is_item(node.value, target.value, group.alias) else None
        if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
            key, value = (element.value for element in target.elements)
            group = self._aggregate(loop.iter, pairs=True)
            if group is None or not all(isinstance(name, cst.Name) for name in (key, value, node.key, node.value)):
                return None
            same = node.key.value == key.value and node.value.value == value.value  # type: ignore[attr-defined]
            return group if same else None
        return None

    def _aggregate(self, node: libcst.BaseExpression, *, pairs: bool) -> GroupAggregate | None:
        """``Model.objects.filter(...).values(k).annotate(a=Agg(...))`` (``pairs``: then
        ``.values_list(k, a)``), read from its chain; None for any other shape."""
        chain = super().chain_of(node)
        if chain is None:
            return None
        calls = list(chain.calls)
        rows: list[str] = []
        while calls and calls[0][0] in RESTRICTING | {"all"}:
            name, call = calls.pop(0)
            if name != "all":
                rows.append(self._normalised(name, call))
        if len(calls) < 2 or calls[0][0] != "values" or calls[1][0] != "annotate":
            return None
        keys = literal_lookups(calls[0][1])
        annotate = calls[1][1]
        if keys is None or len(keys) != 1 or "__" in keys[0] or len(annotate.args) != 1:
            return None
        arg = annotate.args[0]
        aggregate = arg.value
        if arg.keyword is None or not isinstance(aggregate, cst.Call) or not self._is_aggregate(aggregate):
            return None
        key, alias = keys[0], arg.keyword.value
        for name, call in calls[2:-1] if pairs else calls[2:]:
            lookups = literal_lookups(call) if name == "order_by" else None
            if lookups is None or not {lookup.lstrip("-") for lookup in lookups} <= {key, alias}:
                return None
        if pairs and (len(calls) < 3 or calls[-1][0] != "values_list" or literal_lookups(calls[-1][1]) != [key, alias]):
            return None
        key_code = self.context.module.code_for_node(calls[0][1].args[0].value)
        return GroupAggregate(chain.model, key, key_code, alias, aggregate, tuple(rows))

    def _is_aggregate(self, node: libcst.Call) -> bool:
        if any(arg.keyword is not None and arg.keyword.value in NOT_IN_WINDOW for arg in node.args):
            return False
        qualified = self.context.imports.qualify(node.func) or ""
        module, _, name = qualified.rpartition(".")
        return name in AGGREGATES and module in ("django.db.models", "django.db.models.aggregates")

    def _normalised(self, name: str, call: libcst.Call) -> str:
        text = "".join(self.context.module.code_for_node(arg) for arg in call.args)
        return f"{name}({''.join(text.split()).rstrip(',')})"

    def _rows(self, chain: Chain) -> tuple[str, ...] | None:
        """The restricting calls of a loop's queryset; None when it may not hold
        one row per model row (``distinct()``, ``values()`` with an aggregate ...)."""
        names = set(chain.names())
        if not names <= ROW_KEEPING | RESTRICTING or ("values" in names and names & {"annotate", "alias"}):
            return None
        return tuple(self._normalised(name, call) for name, call in chain.calls if name in RESTRICTING)

    # -- loops ------------------------------------------------------------------

    def _enter(self, target: libcst.BaseExpression, iterable: libcst.BaseExpression, node: libcst.CSTNode) -> None:
        chain = self.chain_of(iterable) if isinstance(target, cst.Name) else None
        if chain is not None and self._rows(chain) is not None:
            self.loops.append(Loop(target.value, chain, node))  # type: ignore[union-attr]

    def visit_For(self, node: libcst.For) -> None:
        super().visit_For(node)
        self._filled_by(node)

    def _filled_by(self, node: libcst.For) -> None:
        """``for r in <aggregate>: d[r["k"]] = r["a"]`` fills the empty dict ``d``."""
        body = node.body.body
        if not (isinstance(node.target, cst.Name) and node.orelse is None and len(body) == 1):
            return
        line = body[0]
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign)):
            return
        assign = line.body[0]
        store = assign.targets[0].target if len(assign.targets) == 1 else None
        if not (isinstance(store, cst.Subscript) and isinstance(store.value, cst.Name)):
            return
        name = store.value.value
        if name not in self.empty[-1] or len(store.slice) != 1 or not isinstance(store.slice[0].slice, cst.Index):
            return
        group = self._aggregate(node.iter, pairs=False)
        row = node.target.value
        if group is None or not _is_item(store.slice[0].slice.value, row, group.key) or not _is_item(assign.value, row, group.alias):
            return
        self.empty[-1].discard(name)
        self.groups[-1][name] = group
        self.made[-1].append(group)
        self.not_reads.add(id(store.value))

    # -- joins ------------------------------------------------------------------

    def visit_Subscript(self, node: libcst.Subscript) -> None:
        group = self._group(node.value)
        if group is None or id(node) in self.stores or len(node.slice) != 1:
            return
        index = node.slice[0].slice
        if isinstance(index, cst.Index):
            self._join(node, node.value, group, index.value)

    def visit_Call(self, node: libcst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "get"):
            return
        group = self._group(func.value)
        if group is not None and 1 <= len(node.args) <= 2 and all(arg.keyword is None and not arg.star for arg in node.args):
            self._join(node, func.value, group, node.args[0].value)

    def _group(self, node: libcst.BaseExpression) -> GroupAggregate | None:
        return self.groups[-1].get(node.value) if isinstance(node, cst.Name) else None

    def _join(
        self, node: libcst.CSTNode, name: libcst.BaseExpression, group: GroupAggregate, key: libcst.BaseExpression
    ) -> None:
        """Record ``d[row.k]`` / ``d.get(row.k)`` (``node``; ``name`` is its ``d``) when
        ``row`` is a row of a loop over the rows ``d`` was aggregated from."""
        found = self._row_of(key, group)
        if found is None:
            return
        loop, read = found
        rows = self._rows(loop.chain)
        if loop.chain.model.qualname != group.model.qualname or rows != group.rows:
            return
        self.not_reads.add(id(name))
        window = self.context.imports.local_reference("django.db.models.Window") or "Window"
        f = self.context.imports.local_reference("django.db.models.F") or "F"
        suggestion = f".annotate({group.alias}={window}({_one_line(self.context, group.aggregate)}, partition_by={f}({group.key_code})))"
        message = self.message.format(
            join=self.context.code_for(node, 50),
            key=group.key,
            function=(cst.helpers.get_full_name_for_node(group.aggregate.func) or "").rpartition(".")[2],
            suggestion=suggestion,
            read=read.format(alias=group.alias),
        )
        group.joins.append((node, message))

    def _row_of(self, key: libcst.BaseExpression, group: GroupAggregate) -> tuple[Loop, str] | None:
        """The loop whose row ``key`` reads the group's key from (``row.post_id``,
        ``row["post"]``), and how the suggested annotation is read on that row."""
        if isinstance(key, cst.Attribute):
            loop = self.row_attribute(key)
            if loop is None or "values" in loop.chain.names() or key.attr.value not in self._attributes(group):
                return None
            return loop, f"{key.value.value}.{{alias}}"  # type: ignore[attr-defined]
        if isinstance(key, cst.Subscript) and isinstance(key.value, cst.Name) and _is_item(key, key.value.value, group.key):
            loop = next((loop for loop in reversed(self.loops) if loop.variable == key.value.value), None)
            if loop is None or loop.rebound:
                return None
            values = [call for name, call in loop.chain.calls if name == "values"]
            lookups = literal_lookups(values[-1]) if values else None
            if not lookups or group.key not in lookups:
                return None
            return loop, f'{key.value.value}["{{alias}}"]'
        return None

    def _attributes(self, group: GroupAggregate) -> frozenset[str]:
        """The row attribute that holds the group key: ``post_id`` for ``values("post")``
        on a foreign key, the field itself otherwise; none for a field it cannot tell."""
        fields = self.fields(group.model)
        kind = fields.get(group.key)
        if kind in COLUMN_RELATIONS:
            return frozenset({f"{group.key}_id"})
        if kind is not None and kind.endswith("Field") and kind not in MANY:
            return frozenset({group.key})
        if kind is None and group.key.endswith("_id") and fields.get(group.key[:-3]) in COLUMN_RELATIONS:
            return frozenset({group.key})
        return frozenset()

    # -- other reads of the dict ----------------------------------------------------

    def visit_Attribute(self, node: libcst.Attribute) -> None:
        self.not_reads.add(id(node.attr))

    def visit_Arg(self, node: libcst.Arg) -> None:
        if node.keyword is not None:
            self.not_reads.add(id(node.keyword))

    def visit_Param(self, node: libcst.Param) -> None:
        self.not_reads.add(id(node.name))

    def visit_Name(self, node: libcst.Name) -> None:
        if id(node) in self.not_reads or id(node) in self.stores:
            return
        self.empty[-1].discard(node.value)
        for frame in self.groups:
            group = frame.get(node.value)
            if group is not None:
                group.used_elsewhere = True


def _is_item(node: libcst.BaseExpression, row: str, key: str) -> bool:
    """``node`` is ``row["key"]``."""
    if not (isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == row):
        return False
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return False
    index = node.slice[0].slice.value
    return isinstance(index, cst.SimpleString) and index.evaluated_value == key


def _one_line(context: FileContext, node: libcst.CSTNode) -> str:
    """The code of ``node`` as written, or re-spelt on one line when it spans several."""
    text = context.module.code_for_node(node)
    if "\n" not in text:
        return text
    try:
        return ast.unparse(ast.parse(text.strip(), mode="eval"))
    except (SyntaxError, ValueError):
        return " ".join(text.split())
