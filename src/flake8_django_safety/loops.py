"""Loops over querysets of resolved models, and what the queryset loaded.

Shared by DJS402 (a relation followed per row) and DJS403 (a deferred field
read per row). A loop is tracked when it iterates, in the same function, a
queryset built from ``Model.<manager>`` of a project model, directly or through
locals (``rows = Article.objects.filter(...)``; ``for row in rows``). Anything
the chain does that this module cannot read (a custom queryset method, a
non-literal ``select_related()`` argument, a manager with its own
``get_queryset()``) makes the loop untracked: precision first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.orm import QUERYSET_METHODS, resolve_class, split_chain
from flake8_django_safety.rule import FileContext, Rule

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.project import ClassRef, ProjectIndex
    from flake8_django_safety.settings import Settings

#: Chain methods whose effect on the rows this module understands.
KNOWN_METHODS = QUERYSET_METHODS | {"iterator", "values", "values_list", "order_by"}
#: The managers Django itself provides.
_PLAIN_MANAGERS = frozenset({"django.db.models.Manager", "django.db.models.manager.Manager"})

#: Field classes (last name) that hold one related object, loaded on access.
FORWARD = frozenset(
    {"ForeignKey", "OneToOneField", "ParentalKey", "TreeForeignKey", "TreeOneToOneField", "GenericForeignKey"}
)
#: Forward relations stored in a column of the row (``author_id``).
COLUMN_RELATIONS = FORWARD - {"GenericForeignKey"}
#: Field classes (last name) that give a related manager.
MANY = frozenset({"ManyToManyField", "ParentalManyToManyField", "TreeManyToManyField", "TaggableManager"})
#: Field classes (last name) whose column can be large.
HEAVY = frozenset({"TextField", "JSONField", "BinaryField", "ArrayField", "HStoreField"})
#: Third-party field classes known to store text or JSON, by qualified name.
KNOWN_HEAVY = frozenset(
    {
        "wagtail.fields.RichTextField",
        "wagtail.fields.StreamField",
        "wagtail.core.fields.RichTextField",
        "wagtail.core.fields.StreamField",
        "ckeditor.fields.RichTextField",
        "ckeditor_uploader.fields.RichTextUploadingField",
        "tinymce.models.HTMLField",
        "markdownx.models.MarkdownxField",
        "django_ckeditor_5.fields.CKEditor5Field",
    }
)
#: Related-manager methods that run a query per row unless the relation was prefetched.
MANAGER_READS = frozenset({"all", "count", "exists", "first", "last"})


@dataclass(frozen=True)
class Chain:
    """A queryset: its model, and the calls made on it, innermost first."""

    model: ClassRef
    calls: tuple[tuple[str, libcst.Call], ...] = ()

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def then(self, calls: list[tuple[str, libcst.Call]]) -> Chain:
        return Chain(self.model, self.calls + tuple(calls))


@dataclass
class Loop:
    """One ``for`` / comprehension whose target is a row of ``chain``."""

    variable: str
    chain: Chain
    node: libcst.CSTNode
    #: The loop variable was rebound inside the loop: no longer a row.
    rebound: bool = False
    reported: set[str] = field(default_factory=set)
    #: ``except`` handlers around the loop: a read in a handler inside it is an error path.
    handlers: int = 0
    #: What a rule worked out once about this loop's chain (DJS403: the deferred fields).
    memo: dict[str, object] = field(default_factory=dict)


def literal_lookups(call: libcst.Call) -> list[str] | None:
    """The string arguments of ``select_related("a", "b__c")`` and friends; None
    when one is not a literal (a variable, ``*names``, a keyword)."""
    found: list[str] = []
    for arg in call.args:
        if arg.keyword is not None or arg.star or not isinstance(arg.value, cst.SimpleString):
            return None
        value = arg.value.evaluated_value
        if not isinstance(value, str):
            return None
        found.append(value)
    return found


def field_facts(project: ProjectIndex, ref: ClassRef) -> dict[str, str]:
    """Field name -> the last name of its class (``ForeignKey``), own and
    inherited from project bases, the nearest definition winning; project
    subclasses of relation and heavy fields are named by the Django class they
    extend, and well-known third-party heavy fields (``KNOWN_HEAVY``) are ``TextField``."""
    found: dict[str, str] = {}
    for item in project.ancestry(ref):
        if isinstance(item, str):
            continue
        for facts in item.facts.fields:
            if facts.name not in found:
                found[facts.name] = _field_kind(project, facts.field_class)
    return found


def _field_kind(project: ProjectIndex, field_class: str) -> str:
    last = field_class.rpartition(".")[2]
    if field_class in KNOWN_HEAVY:
        return "TextField"
    if last in _KINDS:
        return last
    ref = project.resolve_class(field_class) if "." in field_class else None
    if ref is not None:
        for item in project.ancestry(ref):
            if isinstance(item, str) and item in KNOWN_HEAVY:
                return "TextField"
            name = (item if isinstance(item, str) else item.facts.name).rpartition(".")[2]
            if name in _KINDS:
                return name
    return last


_KINDS = FORWARD | MANY | HEAVY


def relation_shape(kinds: dict[str, str], reverse: dict[str, str], name: str) -> str | None:
    """What attribute ``name`` of a row is: ``"forward"`` (one related object,
    loaded on access), ``"many"`` (a related manager) or None. ``kinds`` are
    the model's ``field_facts``, ``reverse`` its ``reverse_relations``;
    ``<model>_set`` accessors are known by their name."""
    kind = kinds.get(name)
    if kind is not None:
        return "forward" if kind in FORWARD else "many" if kind in MANY else None
    kind = reverse.get(name)
    if kind is not None:
        return "forward" if kind == "OneToOneField" else "many"
    return "many" if name.endswith("_set") else None


def queryset_chain(
    context: FileContext,
    node: libcst.BaseExpression,
    local_chains: dict[str, Chain],
    *,
    model: ClassRef | None = None,
) -> Chain | None:
    """The queryset ``node`` builds from ``Model.<manager>`` of a project model, or
    from a local bound to one (``local_chains``); None when any step is unknown.
    In a view, ``model`` is the class's model: ``self.model.<manager>`` is its manager."""
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
        node = node.value  # ``qs[:50]`` is still a queryset
    calls, node = split_chain(node)
    if any(name not in KNOWN_METHODS or name == "none" for name, _ in calls):
        return None  # ``none()`` runs no query at all
    calls.reverse()
    if isinstance(node, cst.Name):
        base = local_chains.get(node.value)
        return None if base is None else base.then(calls)
    if not isinstance(node, cst.Attribute):
        return None
    project = context.project
    if model is not None and cst.helpers.get_full_name_for_node(node.value) == "self.model":
        ref: ClassRef | None = model
    else:
        ref = resolve_class(context, node.value)
    if project is None or ref is None or not project.is_model(ref) or not plain_manager(project, ref, node.attr.value):
        return None
    return Chain(ref, tuple(calls))


def default_manager(project: ProjectIndex, model: ClassRef) -> str:
    """The name of the model's default manager: ``Meta.default_manager_name``, else
    the first manager declared (own fields first), else ``objects``."""
    for item in project.ancestry(model):
        if isinstance(item, str):
            continue
        named = item.facts.meta.get("default_manager_name")
        if isinstance(named, str):
            return named
        for facts in item.facts.fields:
            last = facts.field_class.rpartition(".")[2]
            if (last.endswith("Manager") and last not in MANY) or last == "as_manager":
                return facts.name
    return "objects"


def plain_manager(project: ProjectIndex, ref: ClassRef, manager: str) -> bool:
    """``Model.<manager>`` hands out the model's rows as Django's manager does:
    the default ``objects``, or a declared manager without its own ``get_queryset()``."""
    if project.has_unreadable_base(ref):
        return False
    if manager == "_default_manager":
        manager = default_manager(project, ref)
    elif manager == "_base_manager":
        return not any(not isinstance(item, str) and "base_manager_name" in item.facts.meta for item in project.ancestry(ref))
    for item in project.ancestry(ref):
        for facts in () if isinstance(item, str) else item.facts.fields:
            if facts.name != manager:
                continue
            if facts.field_class in _PLAIN_MANAGERS:
                return True
            owner = project.resolve_class(facts.field_class)
            return (
                owner is not None
                and project.method(owner, "get_queryset") is None
                and not project.has_unreadable_base(owner)
            )
    return manager == "objects"


def loaded_relations(chain: Chain, *, forward: bool) -> set[str] | None:
    """The relations the chain loads (first lookup segment); None when it may
    load anything (``select_related()`` with no arguments for forward
    relations, or arguments that are not literals)."""
    loaded: set[str] = set()
    for name, call in chain.calls:
        if name not in ("select_related", "prefetch_related"):
            continue
        if name == "select_related" and not call.args:
            if forward:
                return None
            continue
        lookups = _prefetch_lookups(call) if name == "prefetch_related" else literal_lookups(call)
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


class QuerysetLoops(Rule, register=False):
    """Tracks loops over querysets; subclasses look at the loop variable's attributes."""

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        #: Per function: locals bound to a queryset chain.
        self.frames: list[dict[str, Chain]] = [{}]
        self.loops: list[Loop] = []
        #: Attribute nodes that are assigned to, not read.
        self.stores: set[int] = set()
        #: Model qualname -> its fields' kinds (see ``field_facts``).
        self._fields: dict[str, dict[str, str]] = {}
        #: ``except`` handlers being visited.
        self.handlers = 0

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return not settings.is_test_file(filename) and not settings.is_migration_file(filename)

    def fields(self, ref: ClassRef) -> dict[str, str]:
        """``field_facts`` of ``ref``, worked out once per file."""
        found = self._fields.get(ref.qualname)
        if found is None:
            project = self.context.project
            found = {} if project is None else field_facts(project, ref)
            self._fields[ref.qualname] = found
        return found

    # -- querysets -----------------------------------------------------------

    def chain_of(self, node: libcst.BaseExpression) -> Chain | None:
        return queryset_chain(self.context, node, self.frames[-1])

    # -- functions and locals ----------------------------------------------------

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        self.frames.append({})

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        self.frames.pop()

    def visit_AssignTarget(self, node: libcst.AssignTarget) -> None:
        self.stores.add(id(node.target))

    def visit_ExceptHandler(self, node: libcst.ExceptHandler) -> None:
        self.handlers += 1

    def leave_ExceptHandler(self, original_node: libcst.ExceptHandler) -> None:
        self.handlers -= 1

    def leave_Assign(self, original_node: libcst.Assign) -> None:
        frame = self.frames[-1]
        for target in original_node.targets:
            stored = target.target
            if isinstance(stored, cst.Attribute) and isinstance(stored.value, cst.Name):
                # Set by the loop itself, after the value was read: later reads are not loads.
                for loop in self.loops:
                    if loop.variable == stored.value.value:
                        loop.reported.add(stored.attr.value)
            if not isinstance(target.target, cst.Name):
                continue
            name = target.target.value
            chain = self.chain_of(original_node.value)
            if chain is None:
                frame.pop(name, None)
            else:
                frame[name] = chain
            for loop in self.loops:
                if loop.variable == name:
                    loop.rebound = True

    # -- loops ------------------------------------------------------------------

    def _enter(self, target: libcst.BaseExpression, iterable: libcst.BaseExpression, node: libcst.CSTNode) -> None:
        chain = self.chain_of(iterable) if isinstance(target, cst.Name) else None
        if chain is not None and not {"values", "values_list"} & set(chain.names()):
            self.loops.append(Loop(target.value, chain, node, handlers=self.handlers))  # type: ignore[union-attr]

    def _leave(self, node: libcst.CSTNode) -> None:
        if self.loops and self.loops[-1].node is node:
            self.loops.pop()

    def visit_For(self, node: libcst.For) -> None:
        self._enter(node.target, node.iter, node)

    def leave_For(self, original_node: libcst.For) -> None:
        self._leave(original_node)

    def _visit_comprehension(self, node: libcst.BaseComp) -> None:
        self._enter(node.for_in.target, node.for_in.iter, node)

    def _leave_comprehension(self, node: libcst.BaseComp) -> None:
        self._leave(node)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comprehension

    def row_attribute(self, node: libcst.Attribute) -> Loop | None:
        """The loop whose row ``node`` (``row.attr``) reads an attribute of, if any."""
        if id(node) in self.stores or not isinstance(node.value, cst.Name):
            return None
        for loop in reversed(self.loops):
            if loop.variable == node.value.value:
                return None if loop.rebound or self.handlers > loop.handlers else loop
        return None
