"""List endpoints: Django list views and DRF list views, their querysets and serializers.

Shared by DJS401 (heavy columns nobody reads) and the serializer form of
DJS402 (relations a serializer follows per row). A class is a list endpoint
when its bases, followed through project files, reach Django's ``ListView`` /
``MultipleObjectMixin`` or DRF's ``ListModelMixin`` (every DRF list view and
viewset has it). Everything is read from source: the class's own
``queryset =`` / ``model =`` / ``get_queryset()``, its ``serializer_class`` or
the list branch of ``get_serializer_class()``, and the serializer's facts in
the index. What cannot be read makes the rules silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.classes import body_statements, file_defines
from flake8_django_safety.loops import (
    HEAVY,
    KNOWN_METHODS,
    MANAGER_READS,
    Chain,
    field_facts,
    plain_manager,
    queryset_chain,
    relation_shape,
)
from flake8_django_safety.orm import is_model_serializer_base, resolve_class, split_chain

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ClassRef, ProjectIndex
    from flake8_django_safety.project.facts import ClassFacts, FieldFacts, MethodFacts
    from flake8_django_safety.rule import FileContext
    from flake8_django_safety.settings import Settings

#: Bases (as the index names classes it cannot read) that make a Django list view.
DJANGO_LIST_BASES = frozenset(
    {
        "django.views.generic.ListView",
        "django.views.generic.list.ListView",
        "django.views.generic.list.BaseListView",
        "django.views.generic.list.MultipleObjectMixin",
    }
)
#: DRF's list views and viewsets; all of them mix in ``ListModelMixin``.
DRF_LIST_BASES = frozenset(
    {
        "rest_framework.generics.ListAPIView",
        "rest_framework.generics.ListCreateAPIView",
        "rest_framework.viewsets.ReadOnlyModelViewSet",
        "rest_framework.viewsets.ModelViewSet",
        "rest_framework.mixins.ListModelMixin",
    }
)
#: DRF bases that add actions on one object (they share the queryset with the list).
DRF_DETAIL_BASES = frozenset(
    {
        "rest_framework.viewsets.ReadOnlyModelViewSet",
        "rest_framework.viewsets.ModelViewSet",
        "rest_framework.mixins.RetrieveModelMixin",
        "rest_framework.mixins.UpdateModelMixin",
        "rest_framework.mixins.DestroyModelMixin",
    }
)
#: View methods that change what the list does with its rows: the view is not read further.
_OPAQUE_VIEW_METHODS = frozenset({"list", "get", "paginate_queryset", "get_paginated_response"})
#: View bases from libraries that narrow the columns (``.only()``) and add the
#: prefetches from the serializer on each request: dynamic-rest's ``DynamicFilterBackend``.
_COLUMN_CHOOSING_PACKAGES = ("dynamic_rest.",)
#: Serializer methods that change which attributes are read.
_OPAQUE_SERIALIZER_METHODS = frozenset(
    {"to_representation", "get_fields", "get_field_names", "build_field", "build_relational_field", "__init__"}
)
#: DRF relational fields that read only the related key (``pk`` optimisation) for a forward relation.
_KEY_ONLY_FIELDS = frozenset({"PrimaryKeyRelatedField", "HyperlinkedRelatedField"})
_RELATED_FIELDS = _KEY_ONLY_FIELDS | {"SlugRelatedField", "StringRelatedField", "ManyRelatedField", "RelatedField"}


#: Names a module defining a list endpoint mentions (its own base, or a project base named like one).
_ENDPOINT_WORDS = ("ListView", "ListAPIView", "ListCreateAPIView", "ModelViewSet", "ListModelMixin", "MultipleObjectMixin")


def defines_list_endpoint(text: SourceText, settings: Settings) -> bool:
    """The prefilter: a list base is named in the module (a substring test),
    and one of its classes is a list endpoint by the index's facts (once per file)."""
    if "class " not in text.text or not any(word in text.text for word in _ENDPOINT_WORDS):
        return False
    if "list_endpoints" not in text.memo:
        text.memo["list_endpoints"] = file_defines(text, settings, _is_list_endpoint)
    return bool(text.memo["list_endpoints"])


def _is_list_endpoint(project: ProjectIndex, item: ClassFacts) -> bool:
    ref = project.resolve_class(item.qualname)
    names = () if ref is None else {base for base in project.ancestry(ref) if isinstance(base, str)}
    return bool(names & (DRF_LIST_BASES | DJANGO_LIST_BASES))


@dataclass
class Queryset:
    """Where a list endpoint's rows come from."""

    #: The statement or expression to report on (``queryset = ...`` value, a ``return``).
    node: libcst.CSTNode
    chain: Chain | None
    #: ``queryset = <expression>`` value that a ``.defer()`` may be appended to.
    fixable: libcst.BaseExpression | None = None


@dataclass
class Endpoint:
    """One list endpoint class of the linted module."""

    node: libcst.ClassDef
    ref: ClassRef
    drf: bool
    #: Also serves actions on one object (retrieve, update, destroy).
    detail: bool
    attributes: dict[str, libcst.Assign] = field(default_factory=dict)
    methods: dict[str, libcst.FunctionDef] = field(default_factory=dict)
    querysets: list[Queryset] = field(default_factory=list)
    #: Class attributes set by project bases (see ``ClassFacts.attributes``), nearest first.
    inherited: dict[str, object] = field(default_factory=dict)


def list_endpoint(context: FileContext, node: libcst.ClassDef) -> Endpoint | None:
    """The endpoint module-level class ``node`` defines, with its querysets
    resolved; None when it is not a list endpoint or its rows cannot be read.
    Worked out once per file and class (DJS401 and DJS402 both ask)."""
    key = ("list_endpoint", id(node))
    if key not in context.memo:
        context.memo[key] = _list_endpoint(context, node)
    return context.memo[key]


def _list_endpoint(context: FileContext, node: libcst.ClassDef) -> Endpoint | None:
    project = context.project
    if project is None or context.module_name is None or not node.bases:
        return None
    ref = project.resolve_class(f"{context.module_name}.{node.name.value}")
    if ref is None or project.has_unreadable_base(ref):
        return None
    names = {item for item in project.ancestry(ref) if isinstance(item, str)}
    drf = bool(names & DRF_LIST_BASES)
    if not drf and not names & DJANGO_LIST_BASES:
        return None
    if any(name.startswith(_COLUMN_CHOOSING_PACKAGES) for name in names):
        return None  # a library picks the columns and the prefetches per request
    endpoint = Endpoint(node, ref, drf, detail=drf and bool(names & DRF_DETAIL_BASES))
    for statement in node.body.body:
        if isinstance(statement, cst.FunctionDef):
            endpoint.methods[statement.name.value] = statement
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                    endpoint.attributes[small.targets[0].target.value] = small
    inherited: dict[str, MethodFacts] = {}
    for item in project.ancestry(ref):
        if isinstance(item, str) or item.qualname == ref.qualname:
            continue
        for name, facts in item.facts.method_facts.items():
            inherited.setdefault(name, facts)
        for name, value in item.facts.attributes.items():
            endpoint.inherited.setdefault(name, value)
    if "queryset" in endpoint.inherited and "queryset" not in endpoint.attributes:
        return None  # rows from a base's ``queryset``
    own = endpoint.methods.keys()
    if (own | inherited.keys()) & _OPAQUE_VIEW_METHODS:
        return None
    for name in ("get_queryset", "get_serializer_class", "get_template_names"):
        if name in inherited and name not in own:
            return None  # decided by a base class in code this module does not walk
    base_context = inherited.get("get_context_data")
    if base_context is not None and base_context.touches_rows:
        return None
    endpoint.querysets = _querysets(context, endpoint)
    return endpoint if endpoint.querysets else None


def _querysets(context: FileContext, endpoint: Endpoint) -> list[Queryset]:
    base = _base_queryset(context, endpoint)
    method = endpoint.methods.get("get_queryset")
    if method is None:
        return [] if base is None else [base]
    found: list[Queryset] = []
    local_chains: dict[str, Chain] = {}
    model_attr = endpoint.attributes.get("model")
    model = resolve_class(context, model_attr.value) if model_attr is not None else None
    if model is None and base is not None and base.chain is not None:
        model = base.chain.model
    for statement in body_statements(method.body):
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0].target, cst.Name):
            chain = _chain(context, statement.value, local_chains, base, model)
            name = statement.targets[0].target.value
            if chain is None:
                local_chains.pop(name, None)
            else:
                local_chains[name] = chain
        elif isinstance(statement, cst.Return) and statement.value is not None:
            chain = _chain(context, statement.value, local_chains, base, model)
            found.append(Queryset(statement.value, chain, fixable=statement.value))
    return found


def _chain(
    context: FileContext,
    node: libcst.BaseExpression,
    local_chains: dict[str, Chain],
    base: Queryset | None,
    model: ClassRef | None,
) -> Chain | None:
    """A queryset expression of ``get_queryset()``: ``super().get_queryset()`` and
    ``self.queryset`` stand for the class's own ``queryset`` / ``model``, and
    ``self.model.<manager>`` for the model's manager."""
    calls, root = split_chain(node)
    if _is_super(root) and calls and calls[-1][0] == "get_queryset":
        rest = calls[:-1]
    elif cst.helpers.get_full_name_for_node(root) == "self.queryset":
        rest = calls
    else:
        return queryset_chain(context, node, local_chains, model=model)
    if base is None or base.chain is None or any(name not in KNOWN_METHODS for name, _ in rest):
        return None
    return base.chain.then(list(reversed(rest)))


def _is_super(node: libcst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "super"


def _base_queryset(context: FileContext, endpoint: Endpoint) -> Queryset | None:
    assign = endpoint.attributes.get("queryset")
    if assign is not None:
        return Queryset(assign.value, queryset_chain(context, assign.value, {}), fixable=assign.value)
    assign = endpoint.attributes.get("model")
    if assign is None or endpoint.drf:
        return None
    project = context.project
    model = resolve_class(context, assign.value)
    if project is None or model is None or not project.is_model(model) or project.has_unreadable_base(model):
        return None
    if not plain_manager(project, model, "_default_manager"):
        return None  # ``ListView`` reads ``_default_manager``: it may filter or defer
    return Queryset(assign.value, Chain(model))


# -- serializers -----------------------------------------------------------------


def list_serializers(context: FileContext, endpoint: Endpoint) -> tuple[ClassRef, ClassRef] | None:
    """(serializer of the list action, serializer of the other actions); None when unknown."""
    method = endpoint.methods.get("get_serializer_class")
    default = endpoint.attributes.get("serializer_class")
    default_ref = None if default is None else resolve_class(context, default.value)
    if method is None:
        return None if default_ref is None else (default_ref, default_ref)
    list_expr: libcst.BaseExpression | None = None
    other: libcst.BaseExpression | None = None
    from libcst import matchers

    returns = [node for node in body_statements(method.body) if isinstance(node, cst.Return)]
    for node in matchers.findall(method.body, matchers.If()):
        if isinstance(node, cst.If) and _tests_list_action(node.test):
            inner = [n for n in body_statements(node.body) if isinstance(n, cst.Return)]
            if len(inner) == 1 and inner[0].value is not None:
                list_expr = inner[0].value
    if returns and returns[-1].value is not None:
        other = returns[-1].value
    if list_expr is None:
        if len(returns) != 1:
            return None
        list_expr = other
    list_ref = _serializer_ref(context, list_expr, default_ref)
    other_ref = _serializer_ref(context, other, default_ref)
    return None if list_ref is None or other_ref is None else (list_ref, other_ref)


def _serializer_ref(
    context: FileContext, node: libcst.BaseExpression | None, default: ClassRef | None
) -> ClassRef | None:
    """The serializer class a ``return`` of ``get_serializer_class()`` gives."""
    if node is None:
        return None
    if cst.helpers.get_full_name_for_node(node) == "self.serializer_class":
        return default
    if isinstance(node, cst.Call):
        calls, root = split_chain(node)
        if _is_super(root) and [name for name, _ in calls] == ["get_serializer_class"]:
            return default
        return None
    return resolve_class(context, node)


def _tests_list_action(test: libcst.BaseExpression) -> bool:
    """``self.action == "list"`` / ``self.action in ("list", ...)``."""
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return False
    if cst.helpers.get_full_name_for_node(test.left) != "self.action":
        return False
    target = test.comparisons[0]
    right = target.comparator
    if isinstance(target.operator, cst.Equal):
        return isinstance(right, cst.SimpleString) and right.evaluated_value == "list"
    if isinstance(target.operator, cst.In) and isinstance(right, (cst.Tuple, cst.List, cst.Set)):
        return any(
            isinstance(element.value, cst.SimpleString) and element.value.evaluated_value == "list"
            for element in right.elements
        )
    return False


@dataclass
class Access:
    """A serializer field that follows a relation of the row."""

    field: str
    relation: str
    #: ``select_related`` (one object) or ``prefetch_related`` (a manager).
    forward: bool


@dataclass
class SerializerShape:
    """What a model serializer reads from each row."""

    name: str
    model: ClassRef
    #: Model attributes (first segments) read; None when it may read anything.
    reads: frozenset[str] | None
    accesses: list[Access]


def serializer_shape(context: FileContext, ref: ClassRef) -> SerializerShape | None:
    """The shape of model serializer ``ref``; None when it is not one this module
    reads. Worked out once per file and serializer."""
    key = ("serializer_shape", ref.qualname)
    if key not in context.memo:
        project = context.project
        context.memo[key] = None if project is None else _serializer_shape(project, ref)
    return context.memo[key]


def _serializer_shape(project: ProjectIndex, ref: ClassRef) -> SerializerShape | None:
    ancestry = list(project.ancestry(ref))
    if not any(isinstance(item, str) and is_model_serializer_base(item) for item in ancestry):
        return None
    if project.has_unreadable_base(ref):
        return None
    classes = [item for item in ancestry if not isinstance(item, str)]
    if any(item.facts.methods & _OPAQUE_SERIALIZER_METHODS for item in classes):
        return None
    from flake8_django_safety.project.facts import meta_name  # the index is loaded by now

    owner = next((item for item in classes if "model" in item.facts.meta), None)
    meta = {} if owner is None else owner.facts.meta
    model_name = meta_name(meta.get("model"))
    if owner is None or model_name is None:
        return None
    model = project.resolve_class(owner.module.qualify(model_name))
    if model is None or not project.is_model(model) or project.has_unreadable_base(model):
        return None
    depth = meta.get("depth", 0)
    if not isinstance(depth, int):
        return None
    declared: dict[str, FieldFacts] = {}
    for item in classes:
        for facts in item.facts.fields:
            declared.setdefault(facts.name, facts)
    kinds = field_facts(project, model)
    reverse = project.reverse_relations(model)
    columns = [name for name, kind in kinds.items() if not kind.endswith("Manager") or relation_shape(kinds, {}, name)]
    fields = meta.get("fields")
    exclude = meta.get("exclude")
    if fields == "__all__":
        names = columns + [name for name in declared if name not in columns]
        reads_all = True
    elif isinstance(fields, (list, tuple)) and all(isinstance(name, str) for name in fields):
        names = list(fields)
        reads_all = False
    elif isinstance(exclude, (list, tuple)) and all(isinstance(name, str) for name in exclude):
        names = [name for name in columns if name not in exclude]
        names += [name for name in declared if name not in names]
        reads_all = False
    else:
        return None
    shape = SerializerShape(ref.facts.name, model, None, [])
    reads: set[str] | None = set()
    for name in names:
        facts = declared.get(name)
        if facts is None:
            shape.accesses.extend(_default_field_access(name, kinds, reverse, depth))
            method = None if name in kinds else project.method(model, name)
            if method is not None and reads is not None:
                # a model property or method: what it reads of ``self``
                reads = None if method.passes_self or method.self_calls else reads | method.reads
            if reads is not None:
                reads.add(name)
            continue
        paths = _field_paths(project, ref, facts)
        if paths is None:
            reads = None
            continue
        for path in paths:
            if reads is not None:
                reads.add(path.partition(".")[0])
            access = _declared_field_access(project, facts, path, kinds, reverse)
            if access is not None:
                shape.accesses.append(access)
    shape.reads = None if reads_all or reads is None else frozenset(reads)
    return shape


def _default_field_access(name: str, kinds: dict[str, str], reverse: dict[str, str], depth: int) -> list[Access]:
    """The field ``ModelSerializer`` builds for ``name`` by itself: a many
    relation reads ``.all()`` per row; a forward relation only its key (the
    primary-key optimisation) unless ``depth`` nests it; a reverse one-to-one
    loads the object."""
    relation = relation_shape(kinds, reverse, name)
    if relation == "many":
        return [Access(name, name, forward=False)]
    if relation == "forward" and (depth or name not in kinds):
        return [Access(name, name, forward=True)]
    return []


def _declared_field_access(
    project: ProjectIndex, facts: FieldFacts, path: str, kinds: dict[str, str], reverse: dict[str, str]
) -> Access | None:
    """The relation a declared field reading ``path`` of the row follows, if any."""
    head, _, rest = path.partition(".")
    relation = relation_shape(kinds, reverse, head)
    last = facts.field_class.rpartition(".")[2]
    if relation == "forward":
        if not rest and last in _KEY_ONLY_FIELDS and head in kinds:
            return None  # reads ``<relation>_id`` only
        return Access(facts.name, head, forward=True)
    if relation == "many":
        calls_manager = rest.partition(".")[0] in MANAGER_READS
        whole = not rest and (facts.many or last in _RELATED_FIELDS or _is_serializer(project, facts.field_class))
        if calls_manager or whole:
            return Access(facts.name, head, forward=False)
    return None


def _field_paths(project: ProjectIndex, serializer: ClassRef, facts: FieldFacts) -> list[str] | None:
    """The attribute paths of the row a declared serializer field reads; None when unknown."""
    last = facts.field_class.rpartition(".")[2]
    if last == "SerializerMethodField":
        method_name = facts.method_name or facts.target or f"get_{facts.name}"
        method = project.method(serializer, method_name)
        if method is None or method.param_paths is None:
            return None
        return sorted(method.param_paths)
    if last in ("HiddenField",):
        return []
    source = facts.source or facts.name
    if source == "*":
        return None
    return [source]


def _is_serializer(project: ProjectIndex, field_class: str) -> bool:
    """A nested serializer: a class whose bases reach DRF's serializers."""
    ref = project.resolve_class(field_class)
    if ref is None:
        return field_class.rpartition(".")[2].endswith("Serializer")
    return any(
        isinstance(item, str) and item.startswith("rest_framework.serializers.") and item.endswith("Serializer")
        for item in project.ancestry(ref)
    )


# -- heavy columns -----------------------------------------------------------------

def heavy_fields(project: ProjectIndex, model: ClassRef) -> list[str]:
    """The model's fields (own and inherited from project bases) with heavy columns."""
    return [name for name, kind in field_facts(project, model).items() if kind in HEAVY]


# -- templates ---------------------------------------------------------------------

_TAG = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]\w*")
_REFERENCE = re.compile(r"^\s*(extends|include|import|from)\s+(\S+)")
_FOR = re.compile(r"^\s*for\s+(.+?)\s+in\s")
_WITH = re.compile(r"(\w+)\s*=\s*([A-Za-z_]\w*)(?=\s|$)")
_FILTER = re.compile(r"([A-Za-z_]\w*)\s*\|\s*([A-Za-z_]\w*)")
#: Tags of Django's template language and its contrib libraries: none reads a
#: row's attributes beyond what the template names.
_DJANGO_TAGS = frozenset(
    """autoescape block comment csrf_token cycle debug extends filter firstof for empty if elif else
    ifchanged include load lorem now regroup resetcycle spaceless templatetag url verbatim widthratio with
    trans translate blocktrans blocktranslate plural get_current_language get_available_languages
    get_language_info get_current_language_bidi language static get_static_prefix get_media_prefix
    localize localtime timezone get_current_timezone cache as and or not in is""".split()
)
#: Django's built-in filters.
_DJANGO_FILTERS = frozenset(
    """add addslashes capfirst center cut date default default_if_none dictsort dictsortreversed
    divisibleby escape escapejs escapeseq filesizeformat first floatformat force_escape get_digit iriencode
    join json_script last length length_is linebreaks linebreaksbr linenumbers ljust lower make_list
    phone2numeric pluralize pprint random rjust safe safeseq slice slugify stringformat striptags time
    timesince timeuntil title truncatechars truncatechars_html truncatewords truncatewords_html unordered_list
    upper urlencode urlize urlizetrunc wordcount wordwrap yesno localize unlocalize localtime utc timezone
    intcomma intword naturalday naturaltime ordinal apnumber""".split()
)


def template_words(project: ProjectIndex, name: str) -> frozenset[str] | None:
    """The identifiers used inside the tags of template ``name`` and the templates
    it extends, includes or imports; None when any of them cannot be found or
    read, names another template with a variable, or hands a whole loop
    variable (a row, presumably) to a tag or filter that is not Django's own,
    which may read any attribute of it."""
    words: set[str] = set()
    tags: list[str] = []
    pending = [name]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        text = None if len(seen) > 50 else _read_template(project, current)
        if text is None:
            return None
        for match in _TAG.finditer(text):
            inside = match.group(1) if match.group(1) is not None else match.group(2)
            words.update(_WORD.findall(_strip_strings(inside)))
            tags.append(inside if match.group(2) is not None else "{{" + inside)
            reference = _REFERENCE.match(inside) if match.group(2) is not None else None
            if reference is not None:
                target = reference.group(2)
                if len(target) < 2 or target[0] not in "\"'" or target[-1] != target[0]:
                    return None
                pending.append(target[1:-1])
    return None if _hands_rows_to_custom_code(tags) else frozenset(words)


def _strip_strings(text: str) -> str:
    return re.sub(r"\"[^\"]*\"|'[^']*'", " ", text)


def _hands_rows_to_custom_code(tags: list[str]) -> bool:
    """A loop variable, bare, is an argument of a custom tag or the input of a custom filter."""
    rows: set[str] = set()
    for inside in tags:
        loop = _FOR.match(inside)
        if loop is not None:
            rows.update(_WORD.findall(loop.group(1)))
    for inside in tags:  # ``{% with item=row %}``: an alias of a row is a row
        if inside.split()[:1] in (["with"], ["include"]):
            rows.update(alias for alias, value in _WITH.findall(inside) if value in rows)
    for inside in tags:
        text = _strip_strings(inside.removeprefix("{{"))
        for value, name in _FILTER.findall(text):
            if value in rows and name not in _DJANGO_FILTERS:
                return True
        if inside.startswith("{{"):
            continue
        parts = text.split()
        if parts and parts[0] not in _DJANGO_TAGS and not parts[0].startswith("end"):
            if any(part in rows for part in parts[1:]) or any(value in rows for _, value in _WITH.findall(text)):
                return True
    return False


def _read_template(project: ProjectIndex, name: str) -> str | None:
    for folder in project.template_dirs():
        path = folder / name
        try:
            if path.is_file() and path.stat().st_size < 1_000_000:
                return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    return None
