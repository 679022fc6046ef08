"""Querysets of ``values()`` rows, and the keys each row has.

``Article.objects.filter(live=True).values("id", "title")[:20]`` yields dicts
keyed ``id`` and ``title``; a rule that reads ``row["title"]`` from those rows
needs to know which keys exist, what precedes and follows ``values()`` in the
chain, and whether the model is one the project declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.loops import COLUMN_RELATIONS, MANY, field_facts
from flake8_django_safety.orm import QUERYSET_METHODS, resolve_class, split_chain

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.project import ClassRef
    from flake8_django_safety.rule import FileContext


@dataclass(frozen=True)
class ValuesRows:
    """An iterable of ``values()`` rows, as written."""

    #: The whole iterable (with an outer slice, if any).
    expression: libcst.BaseExpression
    #: The ``values(...)`` call.
    call: libcst.Call
    #: Calls between the manager and ``values()``, innermost first.
    before: tuple[tuple[str, libcst.Call], ...]
    #: Calls after ``values()``, innermost first.
    after: tuple[tuple[str, libcst.Call], ...]
    #: What the chain starts from (``Article.objects``, ``author.articles``).
    source: libcst.BaseExpression
    #: The positional field names of ``values()`` (empty: every concrete field).
    fields: tuple[str, ...]
    #: The keyword expressions of ``values()``, by alias.
    expressions: dict[str, libcst.Arg]
    #: Aliases that ``annotate()`` after ``values()`` adds to each row (grouping).
    grouped: dict[str, libcst.Arg]

    def keys(self) -> frozenset[str] | None:
        """The keys of each row; None for ``values()`` without arguments (every field)."""
        if not self.fields and not self.expressions:
            return None
        return frozenset(self.fields) | frozenset(self.expressions) | frozenset(self.grouped)


def values_rows(node: libcst.BaseExpression) -> ValuesRows | None:
    """``node`` as a queryset of ``values()`` rows, when every argument that names
    a key is a literal; None for anything else (``values_list()``, two
    ``values()`` calls, ``aggregate()``, ``values(*names)``)."""
    expression = node
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
        node = node.value
    calls, source = split_chain(node)
    calls.reverse()
    names = [name for name, _ in calls]
    if names.count("values") != 1 or "values_list" in names:
        return None
    at = names.index("values")
    call = calls[at]
    fields: list[str] = []
    expressions: dict[str, libcst.Arg] = {}
    for arg in call[1].args:
        if arg.star:
            return None
        if arg.keyword is not None:
            expressions[arg.keyword.value] = arg
        elif isinstance(arg.value, cst.SimpleString) and isinstance(arg.value.evaluated_value, str):
            fields.append(arg.value.evaluated_value)
        else:
            return None
    grouped: dict[str, libcst.Arg] = {}
    for name, after in calls[at + 1 :]:
        if name not in ROW_PRESERVING and name not in ("annotate", "alias"):
            return None
        if name == "annotate":
            for arg in after.args:
                if arg.keyword is None or arg.star:
                    return None  # a default alias (``count__id``) this module does not spell
                grouped[arg.keyword.value] = arg
    return ValuesRows(expression, call[1], tuple(calls[:at]), tuple(calls[at + 1 :]), source, tuple(fields), expressions, grouped)


#: Calls after ``values()`` that keep its rows and their keys.
ROW_PRESERVING = frozenset(
    {"all", "filter", "exclude", "order_by", "reverse", "using", "distinct", "select_for_update", "iterator"}
)


def rows_model(context: FileContext, rows: ValuesRows) -> ClassRef | None:
    """The project model the rows come from, when it and every call before
    ``values()`` are understood: ``Model.<manager>`` of a project model whose
    fields are all known (no base outside the project), then queryset methods
    Django defines (a custom queryset method might annotate or change the model)."""
    project = context.project
    if project is None or not isinstance(rows.source, cst.Attribute):
        return None
    if any(name not in QUERYSET_METHODS for name, _ in rows.before):
        return None
    ref = resolve_class(context, rows.source.value)
    if ref is None or not project.is_model(ref) or project.has_unreadable_base(ref):
        return None
    return ref


def model_names(context: FileContext, ref: ClassRef) -> frozenset[str]:
    """What ``_meta.get_fields()`` knows the model by: its fields and their
    columns (``author``, ``author_id``), ``pk``, and the reverse accessors other
    project models declare for it."""
    project = context.project
    assert project is not None
    names = {"pk"}
    for name, kind in field_facts(project, ref).items():
        names.add(name)
        if kind in COLUMN_RELATIONS:
            names.add(f"{name}_id")
    names.update(project.reverse_relations(ref))
    return frozenset(names)


def concrete_columns(context: FileContext, ref: ClassRef) -> frozenset[str] | None:
    """The keys of ``values()`` without arguments (each concrete field's column
    name: ``author_id``, not ``author``); None when a field's kind is unknown."""
    project = context.project
    assert project is not None
    columns = {"id"}
    for name, kind in field_facts(project, ref).items():
        if kind in MANY or kind == "GenericForeignKey" or kind.endswith("Manager") or kind == "as_manager":
            continue
        if not kind.endswith("Field") and kind not in COLUMN_RELATIONS:
            return None
        columns.add(f"{name}_id" if kind in COLUMN_RELATIONS else name)
    return frozenset(columns)
