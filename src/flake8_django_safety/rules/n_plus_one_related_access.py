from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.endpoints import defines_list_endpoint, list_endpoint, list_serializers, serializer_shape
from flake8_django_safety.loops import (
    COLUMN_RELATIONS,
    MANAGER_READS,
    Loop,
    QuerysetLoops,
    loaded_relations,
    relation_shape,
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

#: The serializer form, reported on the list endpoint's queryset.
SERIALIZER_MESSAGE = (
    "N+1 queries: {fields} of serializer `{serializer}` {verb} `{relation}` once per `{model}` row "
    'of this list endpoint; load it with `{method}("{relation}")` on the queryset'
)


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

    The serializer form: a DRF list endpoint (`ListAPIView`, a viewset with
    `ListModelMixin`) whose list serializer follows a relation per row — a
    dotted `source="author.name"`, a nested serializer, a related field other
    than a primary key, a many-to-many or reverse relation in `Meta.fields`
    (or `"__all__"`), `depth`, or a `SerializerMethodField` method that reads
    `obj.author.name` or calls `obj.tags.count()` — while the view's
    `queryset` or `get_queryset()` does not load it. It is reported on the
    queryset, where the fix goes, and names the serializer fields.

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
    are left alone. Test modules are not linted. The serializer form is
    silent when the serializer overrides `to_representation()`, `__init__()`
    or `get_fields()`, when a method field passes `obj` on, and when the
    view's queryset is inherited from a base view; relations followed by a
    nested serializer's own fields are not checked.

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
        return cls._loops_over_querysets(text.text) or (
            "serializer_class" in text.text and defines_list_endpoint(text, settings)
        )

    @staticmethod
    def _loops_over_querysets(source: str) -> bool:
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
        #: Classes being visited: only module-level ones are list endpoints the index knows.
        self.class_depth = 0
        #: ``row.tags.all()`` calls chained on (``.aggregate()``, ``.filter()``): a query whatever was prefetched.
        self.refined: set[int] = set()

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        """The serializer form: a DRF list endpoint whose serializer follows
        relations the endpoint's queryset does not load."""
        self.class_depth += 1
        if self.class_depth > 1 or len(self.frames) > 1:
            return
        endpoint = list_endpoint(self.context, node)
        project = self.context.project
        if endpoint is None or project is None or not endpoint.drf:
            return
        serializers = list_serializers(self.context, endpoint)
        shape = None if serializers is None else serializer_shape(self.context, serializers[0])
        if shape is None or not shape.accesses:
            return
        for queryset in endpoint.querysets:
            chain = queryset.chain
            if chain is None or chain.model.qualname != shape.model.qualname or {"values", "values_list"} & set(chain.names()):
                continue
            kinds = self.fields(chain.model)
            for relation in dict.fromkeys(access.relation for access in shape.accesses):
                accesses = [access for access in shape.accesses if access.relation == relation]
                forward = any(access.forward for access in accesses)
                loaded = loaded_relations(chain, forward=forward)
                if loaded is None or relation in loaded:
                    continue
                fields = sorted({access.field for access in accesses})
                method = "select_related" if forward and kinds.get(relation) in COLUMN_RELATIONS else "prefetch_related"
                self.report(
                    queryset.node,
                    SERIALIZER_MESSAGE.format(
                        fields=("fields " if len(fields) > 1 else "field ") + ", ".join(f"`{name}`" for name in fields),
                        serializer=shape.name,
                        verb="read" if len(fields) > 1 else "reads",
                        relation=relation,
                        model=chain.model.facts.name,
                        method=method,
                    ),
                )

    def leave_ClassDef(self, original_node: libcst.ClassDef) -> None:
        self.class_depth -= 1

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
        if (
            isinstance(node.value, cst.Call)
            and isinstance(node.value.func, cst.Attribute)
            and node.value.func.attr.value == "all"
            and node.attr.value not in ("count", "exists")
        ):
            self.refined.add(id(node.value))
        loop = self.row_attribute(node)
        if loop is not None and self._relation(loop, node.attr.value) == "forward":
            self._check(loop, node, node.attr.value, forward=True)

    def visit_Call(self, node: libcst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in MANAGER_READS):
            return
        manager = func.value
        if not isinstance(manager, cst.Attribute):
            return
        loop = self.row_attribute(manager)
        if loop is None or id(node) in self.refined:
            return
        relation = manager.attr.value
        if self._relation(loop, relation) == "many":
            self._check(loop, node, relation, forward=False)

    def _once_per_group(self, loop: Loop) -> bool:
        """The access sits in a group body inside ``loop``: it runs once per group.
        (A loop that starts inside the body runs per row again.)"""
        position = next(index for index, candidate in enumerate(self.loops) if candidate is loop)
        return any(position < depth for depth in self.group_depths)

    def _relation(self, loop: Loop, name: str) -> str | None:
        """``relation_shape`` of a row attribute; reverse accessors are looked up
        (a scan of the models modules, once) only for names that are not fields."""
        kinds = self.fields(loop.chain.model)
        project = self.context.project
        reverse = {} if name in kinds or project is None else project.reverse_relations(loop.chain.model)
        return relation_shape(kinds, reverse, name)

    def _check(self, loop: Loop, node: libcst.CSTNode, relation: str, *, forward: bool) -> None:
        if relation in loop.reported or self._once_per_group(loop):
            return
        loaded = loaded_relations(loop.chain, forward=forward)
        if loaded is None or relation in loaded:
            return
        loop.reported.add(relation)
        access = self.context.code_for(node, 40)
        kind = self.fields(loop.chain.model).get(relation)
        if id(node) in self.key_only and kind in COLUMN_RELATIONS:
            advice = f"read the key from the row itself: `{loop.variable}.{relation}_id`"
        else:
            method = "select_related" if forward and kind != "GenericForeignKey" else "prefetch_related"
            advice = f'load the relation with `{method}("{relation}")` on the queryset'
        self.report(node, self.message.format(access=access, model=loop.chain.model.facts.name, advice=advice))


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
