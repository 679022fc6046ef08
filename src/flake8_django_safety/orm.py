"""Django ORM shapes shared by the rules: managers, querysets, model names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst

if TYPE_CHECKING:
    from collections.abc import Iterable

    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.settings import Settings

    from flake8_django_safety.project import ClassRef
    from flake8_django_safety.rule import FileContext

#: Queryset methods that return a queryset of the same model.
_CHAINABLE = frozenset(
    {"all", "filter", "exclude", "using", "order_by", "select_related", "prefetch_related",
     "only", "defer", "distinct", "annotate", "select_for_update", "none"}
)  # fmt: skip


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
        and receiver.func.attr.value in _CHAINABLE
    ):
        if receiver.func.attr.value == "using" and len(receiver.args) == 1:
            using = receiver.args[0]
        receiver = receiver.func.value
    if not isinstance(receiver, cst.Attribute):
        return None
    return receiver.value, using


def resolve_class(context: FileContext, node: libcst.BaseExpression) -> ClassRef | None:
    """The project class a name in this file stands for (imported or defined here)."""
    project = context.project
    if project is None:
        return None
    qualified = context.imports.qualify(node)
    if qualified is not None:
        qualified = context.absolute_name(qualified)
    elif isinstance(node, cst.Name) and context.module_name:
        local = project.module(context.module_name)
        if local is not None and node.value in local.classes:
            qualified = f"{context.module_name}.{node.value}"
    return None if qualified is None else project.resolve_class(qualified)


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
        isinstance(item, str) and item in MODEL_SERIALIZERS for item in project.ancestry(ref)
    )


MODEL_SERIALIZERS = frozenset(
    {
        "rest_framework.serializers.ModelSerializer",
        "rest_framework.serializers.HyperlinkedModelSerializer",
    }
)


def names_validated_model(
    text: SourceText, settings: Settings, names: Iterable[str] | None = None
) -> bool:
    """Prefilter: one of ``names`` (default: every CapWords name the file imports or
    defines) is a project model that skips validation. Reads the file with the
    stdlib ``ast`` (far cheaper than libcst), so only files that can matter are parsed."""
    if not text.filename:
        return False
    from flake8_django_safety.project import index_for_file

    project = index_for_file(text.filename, settings.index_cache_dir)
    facts = None if project is None else project.use_source(text.filename, text.text)
    if project is None or facts is None:
        return False
    if names is None:
        names = [local for local in facts.imports if local[:1].isupper()] + list(facts.classes)
    for name in names:
        ref = project.resolve_class(facts.qualify(name))
        if ref is not None and project.skips_validation(ref):
            return True
    return False


def describe_hooks(hooks: list[str], limit: int = 3) -> str:
    """The hooks a message names: code in backticks, at most ``limit`` of them."""
    return ", ".join(f"`{hook}`" if hook.endswith(")") else hook for hook in hooks[:limit])
