from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.loops import (
    COLUMN_RELATIONS,
    FORWARD,
    MANY,
    Loop,
    QuerysetLoops,
    literal_lookups,
)

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.rule import FileContext
    from flake8_django_safety.settings import Settings

#: ``for row in Model.objects...`` / ``[... for row in Model.objects...]``.
_LOOP_OVER_MANAGER = re.compile(r"\bfor\s+\w+\s+in\s+[\w.]+\.objects\b")
#: ``for row in rows``: the name a loop iterates.
_LOOP_OVER_NAME = re.compile(r"\bfor\s+\w+\s+in\s+(\w+)\b")
#: ``rows = Model.objects...``: a local a loop may iterate later.
_QUERYSET_LOCAL = re.compile(r"^[ \t]*(\w+)[ \t]*=[ \t]*[\w.]+\.objects\b", re.MULTILINE)

#: Related-manager methods that run a query per row unless the relation was prefetched.
_MANAGER_READS = frozenset({"all", "count", "exists", "first", "last"})


class NPlusOneRelatedAccess(QuerysetLoops):
    """
    ## What it does
    Flags, inside a loop or comprehension over a queryset of a project model,
    a row that follows a relation the queryset did not load: a forward
    relation (`row.author`, a `ForeignKey`, `OneToOneField` or
    `GenericForeignKey`) without `select_related()` / `prefetch_related()`,
    or a many-to-many or reverse manager (`row.tags.all()`, `.count()`,
    `.exists()`, `.first()`, `.last()`) without `prefetch_related()` /
    `Prefetch()`. The queryset is followed through locals in the same
    function.

    ## Why is this bad?
    Each access runs one query for one row: a page of 50 rows costs 51
    queries, and the count grows with the data. `select_related()` joins the
    related table into the first query; `prefetch_related()` loads every
    related row in one more query.

    ## Known problems
    The rule is silent when it cannot see everything the queryset does: a
    queryset that comes from another function, a custom queryset or manager
    method in the chain, a manager with its own `get_queryset()`,
    `select_related()` / `prefetch_related()` arguments that are not string
    literals, and model bases it cannot read. A `Prefetch("tags",
    to_attr="tag_list")` loads `row.tag_list`, not `row.tags.all()`, so the
    latter is still reported. Loops over `values()` / `values_list()` rows
    are left alone. Test modules are not linted.

    ## Example
    ```python
    from django.db import models


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Article(models.Model):
        title = models.CharField(max_length=200)
        author = models.ForeignKey(Author, on_delete=models.CASCADE)


    def titles():
        return [(a.title, a.author.name) for a in Article.objects.all()]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Article(models.Model):
        title = models.CharField(max_length=200)
        author = models.ForeignKey(Author, on_delete=models.CASCADE)


    def titles():
        return [(a.title, a.author.name) for a in Article.objects.select_related("author")]
    ```

    ## Options
    - `django-safety-test-patterns`

    ## References
    - [Django: `select_related()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#select-related)
    - [Django: `prefetch_related()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#prefetch-related)
    - [Django: database access optimization](https://docs.djangoproject.com/en/stable/topics/db/optimization/)
    """

    code = "DJS402"
    name = "n-plus-one-related-access"
    message = "N+1 queries: `{access}` runs one query per `{model}` row of this loop; {advice}"
    options = ("test_patterns",)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        source = text.text
        if ".objects" not in source or "for " not in source:
            return False
        if _LOOP_OVER_MANAGER.search(source):
            return True
        locals_ = {match.group(1) for match in _QUERYSET_LOCAL.finditer(source)}
        return bool(locals_) and not locals_.isdisjoint(match.group(1) for match in _LOOP_OVER_NAME.finditer(source))

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        #: ``row.author.pk``: the ``row.author`` nodes whose object is used only for its key.
        self.key_only: set[int] = set()
        #: Bodies of ``if last != row.group: last = row.group; ...``: they run once per group.
        self.group_bodies: set[int] = set()
        #: For each group body being visited: how many loops enclose it.
        self.group_depths: list[int] = []

    def visit_If(self, node: libcst.If) -> None:
        if self.loops and _starts_a_group(node):
            self.group_bodies.add(id(node.body))

    def visit_IndentedBlock(self, node: libcst.IndentedBlock) -> None:
        if id(node) in self.group_bodies:
            self.group_depths.append(len(self.loops))

    def leave_IndentedBlock(self, original_node: libcst.IndentedBlock) -> None:
        if id(original_node) in self.group_bodies:
            self.group_depths.pop()

    def visit_Attribute(self, node: libcst.Attribute) -> None:
        if node.attr.value in ("pk", "id") and isinstance(node.value, cst.Attribute):
            self.key_only.add(id(node.value))
        loop = self.row_attribute(node)
        if loop is not None and self._kind(loop, node.attr.value) in FORWARD:
            self._check(loop, node, node.attr.value, forward=True)

    def visit_Call(self, node: libcst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in _MANAGER_READS):
            return
        manager = func.value
        if not isinstance(manager, cst.Attribute):
            return
        loop = self.row_attribute(manager)
        if loop is None:
            return
        relation = manager.attr.value
        if relation.endswith("_set") or self._kind(loop, relation) in MANY:
            self._check(loop, node, relation, forward=False)

    def _once_per_group(self, loop: Loop) -> bool:
        """The access sits in a group body inside ``loop``: it runs once per group.
        (A loop that starts inside the body runs per row again.)"""
        position = next(index for index, candidate in enumerate(self.loops) if candidate is loop)
        return any(position < depth for depth in self.group_depths)

    def _kind(self, loop: Loop, name: str) -> str | None:
        kind = self.fields(loop.chain.model).get(name)
        project = self.context.project
        if kind is None and project is not None:
            kind = project.reverse_relations(loop.chain.model).get(name)
        return kind

    def _check(self, loop: Loop, node: libcst.CSTNode, relation: str, *, forward: bool) -> None:
        if relation in loop.reported or self._once_per_group(loop):
            return
        loaded = _loaded(loop, forward=forward)
        if loaded is None or relation in loaded:
            return
        loop.reported.add(relation)
        access = self.context.code_for(node, 40)
        kind = self._kind(loop, relation)
        if id(node) in self.key_only and kind in COLUMN_RELATIONS:
            advice = f"read the key from the row itself: `{loop.variable}.{relation}_id`"
        else:
            method = "select_related" if forward and kind != "GenericForeignKey" else "prefetch_related"
            advice = f'load the relation with `{method}("{relation}")` on the queryset'
        self.report(node, self.message.format(access=access, model=loop.chain.model.facts.name, advice=advice))


def _loaded(loop: Loop, *, forward: bool) -> set[str] | None:
    """The relations the chain loads (first lookup segment); None when it may
    load anything (``select_related()`` with no arguments for forward
    relations, or arguments this rule cannot read)."""
    loaded: set[str] = set()
    for name, call in loop.chain.calls:
        if name not in ("select_related", "prefetch_related"):
            continue
        if name == "select_related" and not call.args:
            if forward:
                return None
            continue
        if name == "prefetch_related":
            lookups = _prefetch_lookups(call)
        else:
            lookups = literal_lookups(call)
        if lookups is None:
            return None
        loaded.update(lookup.split("__")[0] for lookup in lookups)
    return loaded


def _prefetch_lookups(call: libcst.Call) -> list[str] | None:
    """``prefetch_related("tags", Prefetch("author__books"), Prefetch("x", to_attr="y"))``:
    the lookups that fill the related managers (a one-segment ``to_attr`` fills ``y`` instead)."""
    found: list[str] = []
    for arg in call.args:
        value = arg.value
        if arg.keyword is not None or arg.star:
            return None
        if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
            found.append(value.evaluated_value)
            continue
        if not (isinstance(value, cst.Call) and _last_name(value.func) == "Prefetch" and value.args):
            return None
        lookup = value.args[0].value
        if value.args[0].keyword is not None or not isinstance(lookup, cst.SimpleString):
            return None
        text = lookup.evaluated_value
        if not isinstance(text, str):
            return None
        to_attr = any(arg.keyword is not None and arg.keyword.value == "to_attr" for arg in value.args)
        if "__" in text or not to_attr:
            found.append(text)
    return found


def _last_name(node: libcst.BaseExpression) -> str | None:
    """``Prefetch`` for ``Prefetch`` and ``models.Prefetch``."""
    name = cst.helpers.get_full_name_for_node(node)
    return None if name is None else name.rpartition(".")[2]


def _starts_a_group(node: libcst.If) -> bool:
    """``if last != row.group: last = row.group``: a test that compares a name the
    body then rebinds, so the body runs once per change of key, not once per row."""
    compared: set[str] = set()
    stack: list[libcst.CSTNode] = [node.test]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Comparison):
            operands = [current.left, *(target.comparator for target in current.comparisons)]
            compared.update(operand.value for operand in operands if isinstance(operand, cst.Name))
        elif isinstance(current, (cst.BooleanOperation, cst.UnaryOperation)):
            stack.extend(current.children)
    if not compared or not isinstance(node.body, cst.IndentedBlock):
        return False
    for statement in node.body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign) and any(
                    isinstance(target.target, cst.Name) and target.target.value in compared for target in small.targets
                ):
                    return True
    return False
