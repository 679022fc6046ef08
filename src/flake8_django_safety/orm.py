"""Django ORM shapes shared by the rules: managers, querysets, model names."""

from __future__ import annotations

import re

from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst

if TYPE_CHECKING:
    from collections.abc import Iterable

    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.settings import Settings

    from flake8_django_safety.project import ClassRef, ModuleFacts, ProjectIndex
    from flake8_django_safety.rule import FileContext

#: Queryset methods that return a queryset of instances of the same model.
QUERYSET_METHODS = frozenset(
    {"all", "filter", "exclude", "using", "order_by", "select_related", "prefetch_related",
     "only", "defer", "distinct", "annotate", "alias", "extra", "reverse", "select_for_update",
     "none", "union", "intersection", "difference"}
)  # fmt: skip
#: Queryset methods that return one row read from the database.
ROW_READS = frozenset(
    {"get", "first", "last", "latest", "earliest", "aget", "afirst", "alast", "alatest", "aearliest"}
)  # fmt: skip
#: Methods that return ``(instance, created)``.
PAIR_READS = frozenset({"get_or_create", "update_or_create", "aget_or_create", "aupdate_or_create"})
SAVES = frozenset({"save", "asave"})


def model_of_queryset(
    receiver: libcst.BaseExpression,
) -> tuple[libcst.BaseExpression, libcst.Arg | None] | None:
    """``Order.objects`` / ``Order.objects.using(db).filter(...)`` -> (``Order``, ``db``).

    The model expression is what precedes the manager attribute; related
    managers (``customer.addresses``) come out too and fail to resolve later.
    """
    using: libcst.Arg | None = None
    while (
        isinstance(receiver, cst.Call)
        and isinstance(receiver.func, cst.Attribute)
        and receiver.func.attr.value in QUERYSET_METHODS
    ):
        if receiver.func.attr.value == "using" and len(receiver.args) == 1:
            using = receiver.args[0]
        receiver = receiver.func.value
    if not isinstance(receiver, cst.Attribute):
        return None
    return receiver.value, using


def qualified_name(context: FileContext, node: libcst.BaseExpression) -> str | None:
    """The absolute dotted name ``node`` stands for in this file: through its
    imports, or as a name of this module (a class, a function, a ``get_model()``
    alias: the index resolves what it is)."""
    qualified = context.imports.qualify(node)
    if qualified is not None:
        return context.absolute_name(qualified)
    if isinstance(node, cst.Name) and context.module_name:
        return f"{context.module_name}.{node.value}"
    return None


def split_chain(node: libcst.BaseExpression) -> tuple[list[tuple[str, libcst.Call]], libcst.BaseExpression]:
    """A call chain's method calls, outermost first, and what the chain starts from:
    ``Order.objects.filter(...).get()`` -> [get, filter], ``Order.objects``."""
    calls: list[tuple[str, libcst.Call]] = []
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        calls.append((node.func.attr.value, node))
        node = node.func.value
    return calls, node


def call_chain(node: libcst.BaseExpression) -> list[str]:
    """The method names of a call chain, outermost first:
    ``Order.objects.filter(...).select_for_update().get()`` -> get, select_for_update, filter."""
    return [name for name, _ in split_chain(node)[0]]


def resolve_class(context: FileContext, node: libcst.BaseExpression) -> ClassRef | None:
    """The project class a name in this file stands for (imported or defined here)."""
    project = context.project
    qualified = None if project is None else qualified_name(context, node)
    return None if project is None or qualified is None else project.resolve_class(qualified)


def field_names_argument(call: libcst.Call, keyword: str, position: int | None = None) -> frozenset[str] | None:
    """``save(update_fields=["a"])`` / ``bulk_update(objs, ["a"])``: the literal field
    names the call restricts its write to; None when absent or not literal."""
    value = None
    for index, arg in enumerate(call.args):
        if (arg.keyword is None and index == position) or (arg.keyword is not None and arg.keyword.value == keyword):
            value = arg.value
    if isinstance(value, (cst.List, cst.Tuple, cst.Set)) and all(
        isinstance(element.value, cst.SimpleString) for element in value.elements
    ):
        return frozenset(element.value.raw_value for element in value.elements)
    return None


#: Every field, for calls that pass ``**kwargs`` or positional values.
ALL_FIELDS = None


def fields_set_by(call: libcst.Call) -> frozenset[str] | None:
    """The fields a ``create()`` / ``Model(...)`` call sets; None when it cannot tell."""
    names: set[str] = set()
    for arg in call.args:
        if arg.star or arg.keyword is None:
            return ALL_FIELDS
        if arg.keyword.value in ("defaults", "create_defaults"):
            if not isinstance(arg.value, cst.Dict):
                return ALL_FIELDS
            for element in arg.value.elements:
                if not isinstance(element, cst.DictElement) or not isinstance(element.key, cst.SimpleString):
                    return ALL_FIELDS
                names.add(element.key.raw_value)
        else:
            names.add(arg.keyword.value.split("__", 1)[0])
    return frozenset(names)


def in_model_serializer(context: FileContext, classes: list[str]) -> bool:
    """Inside a DRF ModelSerializer, whose fields already run the model's field validators."""
    project = context.project
    if project is None or context.module_name is None or not classes:
        return False
    ref = project.resolve_class(f"{context.module_name}.{classes[-1]}")
    return ref is not None and any(
        isinstance(item, str) and is_model_serializer_base(item) for item in project.ancestry(ref)
    )


def is_model_serializer_base(qualified: str) -> bool:
    """DRF's model serializers, and a library's subclass named like one
    (``i18nfield.rest_framework.I18nAwareModelSerializer``): installed packages
    are not read, so their names are all there is."""
    return qualified in MODEL_SERIALIZERS or (
        qualified.rpartition(".")[2].endswith("ModelSerializer") and not qualified.startswith("rest_framework.")
    )


MODEL_SERIALIZERS = frozenset(
    {
        "rest_framework.serializers.ModelSerializer",
        "rest_framework.serializers.HyperlinkedModelSerializer",
    }
)


def model_checks_called(project: ProjectIndex, facts: ModuleFacts, model: ClassRef) -> frozenset[str]:
    """The model's own methods that a ``validate*()`` method in module ``facts``
    calls (``ItemAddOn.clean_max_count(...)`` in a serializer): checks the API runs itself."""
    called: set[str] = set()
    for cls in facts.classes.values():
        for name, method in cls.method_facts.items():
            if not name.startswith("validate"):
                continue
            for callee in method.calls:
                owner, _, helper = callee.rpartition(".")
                ref = project.resolve_class(owner) if owner else None
                if ref is not None and ref.qualname == model.qualname:
                    called.add(helper)
    return frozenset(called)


def names_validated_model(
    text: SourceText, settings: Settings, names: Iterable[str] | None = None
) -> bool:
    """Prefilter: one of ``names`` (default: every CapWords name the file imports or
    defines) is a project model that skips validation."""
    return bool(validated_models(text, settings, names))


def validated_models(
    text: SourceText, settings: Settings, names: Iterable[str] | None = None
) -> dict[str, ClassRef]:
    """The ``names`` (default: every CapWords name the file imports or defines)
    that are project models skipping validation. Reads the file with the stdlib
    ``ast`` (far cheaper than libcst), so only files that can matter are parsed;
    answers are shared by every rule that asks about this file."""
    if not text.filename:
        return {}
    from flake8_django_safety.project import index_for_file

    project = index_for_file(text.filename, settings.index_cache_dir)
    facts = None if project is None else project.use_source(text.filename, text.text)
    if project is None or facts is None:
        return {}
    if names is None:
        names = [local for local in facts.imports if local[:1].isupper()] + list(facts.classes)
        names += list(facts.model_aliases)
    answers: dict[str, ClassRef | None] = text.memo.setdefault("validated", {})
    found: dict[str, ClassRef] = {}
    for name in names:
        if name not in answers:
            ref = project.resolve_class(facts.qualify(name))
            answers[name] = ref if ref is not None and project.skips_validation(ref) else None
        if (ref := answers[name]) is not None:
            found[name] = ref
    return found


def describe_hooks(hooks: list[str], limit: int = 3) -> str:
    """The hooks a message names: code in backticks, at most ``limit`` of them."""
    return ", ".join(f"`{hook}`" if hook.endswith(")") else hook for hook in hooks[:limit])


_WITH_CALL = re.compile(r"\bwith\s+([A-Za-z_][\w.]*)\s*\(")


class RolledBack:
    """Where a write is thrown away: inside ``with rolledback():`` (a project
    context manager that rolls back its block), or in a function of this module
    that is only ever called from inside one. Rules skip writes there: they
    simulate, and ``full_clean()`` would reject the placeholder data on purpose."""

    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.depth = 0
        self._functions: frozenset[str] | None = None

    def enter_with(self, node: libcst.With) -> None:
        if any(self._is_rollback(item.item) for item in node.items):
            self.depth += 1

    def leave_with(self, node: libcst.With) -> None:
        if any(self._is_rollback(item.item) for item in node.items):
            self.depth -= 1

    def enter_function(self, name: str) -> None:
        self.depth += name in self.functions

    def leave_function(self, name: str) -> None:
        self.depth -= name in self.functions

    @property
    def active(self) -> bool:
        return self.depth > 0

    def _is_rollback(self, expression: libcst.BaseExpression) -> bool:
        project = self.context.project
        qualified = qualified_name(self.context, expression.func) if isinstance(expression, cst.Call) else None
        return project is not None and qualified is not None and project.rolls_back(qualified)

    @property
    def functions(self) -> frozenset[str]:
        """Functions and methods of this module called only inside rollback blocks."""
        if self._functions is None:
            self._functions = self._only_rolled_back() if self._may_roll_back() else frozenset()
        return self._functions

    def _may_roll_back(self) -> bool:
        """The module defines or imports a rollback context manager."""
        project = self.context.project
        name = self.context.module_name
        facts = None if project is None or name is None else project.module(name)
        if project is None or facts is None:
            return False
        # Only names a ``with`` statement calls can open a block.
        used = {head.split(".", 1)[0] for head in _WITH_CALL.findall(self.context.source or self.context.module.code)}
        return bool(facts.rollback_contexts & used) or any(
            project.rolls_back(target) for local, target in facts.imports.items() if local in used and "." in target
        )

    def _only_rolled_back(self) -> frozenset[str]:
        inside: set[str] = set()
        outside: set[str] = set()

        def called(node: libcst.CSTNode) -> str | None:
            func = node.func if isinstance(node, cst.Call) else None
            if isinstance(func, cst.Name):
                return func.value
            if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
                return func.attr.value
            return None

        def walk(node: libcst.CSTNode, rolled_back: bool) -> None:
            if isinstance(node, cst.With) and any(self._is_rollback(item.item) for item in node.items):
                rolled_back = True
            name = called(node)
            if name is not None:
                (inside if rolled_back else outside).add(name)
            for child in node.children:
                walk(child, rolled_back)

        walk(self.context.module, False)
        return frozenset(inside - outside)


class SkipsRolledBackWrites:
    """Mixin for rules about writes: keeps ``self.rolled_back`` up to date. Rules
    that define their own ``visit_FunctionDef`` / ``leave_FunctionDef`` call
    ``super()`` first."""

    context: FileContext

    @property
    def rolled_back(self) -> RolledBack:
        tracker = self.__dict__.get("_rolled_back")
        if tracker is None:
            tracker = self.__dict__["_rolled_back"] = RolledBack(self.context)
        return tracker

    def visit_With(self, node: libcst.With) -> None:
        self.rolled_back.enter_with(node)

    def leave_With(self, original_node: libcst.With) -> None:
        self.rolled_back.leave_with(original_node)

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        self.rolled_back.enter_function(node.name.value)

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        self.rolled_back.leave_function(original_node.name.value)
