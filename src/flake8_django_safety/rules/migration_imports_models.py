from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.imports import ImportTracker
from flake8_django_safety.migrations import MigrationRule
from flake8_django_safety.orm import PAIR_READS, QUERYSET_METHODS, ROW_READS

if TYPE_CHECKING:
    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project.index import ClassRef
    from flake8_django_safety.settings import Settings

_FUNCTIONS = ("FunctionDef", "Lambda")
#: ``label = "pretixbase"`` in an ``AppConfig`` subclass.
_APP_LABEL = re.compile(r"""^[ \t]+label[ \t]*=[ \t]*["']([A-Za-z_]\w*)["']""", re.MULTILINE)
#: What a historical model from ``apps.get_model()`` has too: managers, exceptions, ``_meta``.
_HISTORICAL_ATTRIBUTES = frozenset(
    {"objects", "_default_manager", "_base_manager", "DoesNotExist", "MultipleObjectsReturned", "_meta"}
)
_MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
#: What a historical model's manager offers: Django's own manager and queryset API (a
#: custom manager method is there only with ``use_in_migrations = True``).
_MANAGER_API = QUERYSET_METHODS | ROW_READS | PAIR_READS | frozenset(
    {"get_queryset", "create", "acreate", "update", "aupdate", "delete", "adelete", "count", "acount",
     "exists", "aexists", "values", "values_list", "bulk_create", "abulk_create", "bulk_update",
     "abulk_update", "in_bulk", "ain_bulk", "iterator", "aiterator", "aggregate", "aaggregate", "raw",
     "dates", "datetimes", "contains", "acontains", "explain", "aexplain", "db_manager"}
)  # fmt: skip


class MigrationImportsModels(MigrationRule):
    """
    ## What it does
    Flags, in a migration module, a function (a `RunPython` function, a
    `lambda`, any helper of the module) that uses a model class of the
    project imported from its models module (`from shop.models import Order`,
    `from ..models import Order`, `from shop.models.order import Order`,
    `import shop.models` used as `shop.models.Order`) where the historical
    model from `apps.get_model()` would do the same: its manager
    (`Order.objects`, `_default_manager`, `_base_manager`), its exceptions
    (`Order.DoesNotExist`, `MultipleObjectsReturned`), `Order._meta`, or a new
    instance `Order(...)`. The report is on the first such use in each
    function: that is where `Order = apps.get_model("shop", "Order")` belongs
    (then drop the import).

    ## Why is this bad?
    A migration runs against the schema as it was when the migration was
    written, but an imported model class is the code as it is today. Once a
    later migration adds a field to `Order`, the imported class selects,
    inserts and validates that column while this migration runs on a database
    that does not have it yet: a fresh database (every test run, every new
    developer, every new deployment) fails with "no such column", and custom
    managers, `save()` overrides and signals of today's code run inside a
    years-old migration. `apps.get_model()` returns the model as the migration
    history defines it at this point.

    ## Known problems
    Only model classes of the project (files under the project root) are
    reported; models of Django itself or of installed third-party apps are
    left alone, as are imports used outside functions (`makemigrations`
    writes `import shop.models` for field classes and default callables such
    as `shop.models.MoneyField` in `operations`; those are meant to be the
    current code). A use that a historical model cannot stand in for is left
    alone: a custom class method (wagtail imports its real `Collection` on
    purpose to call treebeard's `fix_tree()`), a class constant
    (`Order.STATUS_PAID`), a custom manager or queryset method anywhere in
    the chain (`Order.objects.current_app()`: a historical manager has it only
    with `use_in_migrations = True`), the class passed on as a value. A name
    the function binds itself (`Order = apps.get_model(...)`) is not the
    import. The app label in the suggestion
    is the model's `Meta.app_label`, else the `label` of the `AppConfig` in the
    app's `apps.py`, else the app package's name.

    ## Example
    ```python
    from django.db import migrations

    from shop.models import Order


    def fill_reference(apps, schema_editor):
        Order.objects.filter(reference="").update(reference="legacy")


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.RunPython(fill_reference, migrations.RunPython.noop, elidable=True),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations


    def fill_reference(apps, schema_editor):
        Order = apps.get_model("shop", "Order")
        Order.objects.filter(reference="").update(reference="legacy")


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.RunPython(fill_reference, migrations.RunPython.noop, elidable=True),
        ]
    ```

    ## References
    - [Django: data migrations](https://docs.djangoproject.com/en/stable/topics/migrations/#data-migrations)
    - [Django: historical models](https://docs.djangoproject.com/en/stable/topics/migrations/#historical-models)
    """

    code = "DJS702"
    name = "migration-imports-models"
    message = (
        "Migration code uses `{name}`, today's `{model}` model class, not the historical one: it breaks "
        'once the model changes; use `{local} = apps.get_model("{label}", "{model}")` in the function'
    )

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return ("def " in text.text or "lambda" in text.text) and super().triggered_by(text, settings)

    def leave_Module(self, original_node: cst.Module) -> None:
        if not self.is_migration or self.context.project is None:
            return
        # Every function of the module, outermost first; nested ones see their parents' names.
        for function, scopes in _functions(original_node, [_bindings(original_node.body, module=True)]):
            reported: set[str] = set()
            for node, qualified in _uses(function, scopes):
                ref = self._model(qualified)
                text = self.context.code_for(node)
                if ref is None or text in reported:
                    continue
                reported.add(text)
                local = text.rpartition(".")[2]
                label = _label(ref, self.context.project.search_path)
                self.report(node, self.message.format(name=text, model=ref.facts.name, local=local, label=label))

    def _model(self, qualified: str) -> ClassRef | None:
        """The project model class ``qualified`` (maybe relative) names, else None."""
        absolute = self.context.absolute_name(qualified)
        project = self.context.project
        if absolute is None or project is None:
            return None
        ref = project.resolve_class(absolute)
        if ref is None:
            return None
        # A class with model fields is a model even when its base is a third-party
        # class the index keeps as a name (treebeard's ``MP_Node``, ``PolymorphicModel``).
        return ref if project.is_model(ref) or ref.facts.fields else None


#: Per scope: local name -> the dotted name it was imported as, or None (bound otherwise).
_Scope = dict[str, "str | None"]


def _functions(node: cst.CSTNode, scopes: list[_Scope]) -> Iterator[tuple[cst.CSTNode, list[_Scope]]]:
    """Each function and lambda under ``node`` with the scopes its names resolve in."""
    for child in node.children:
        if type(child).__name__ in _FUNCTIONS:
            inner = [*scopes, _function_bindings(child)]
            yield child, inner
            yield from _functions(child.body, inner)
        elif isinstance(child, cst.ClassDef):
            yield from _functions(child.body, scopes)  # a class body is no scope for its methods
        else:
            yield from _functions(child, scopes)


def _function_bindings(function: cst.CSTNode) -> _Scope:
    params = function.params
    names: _Scope = {
        param.name.value: None
        for param in (*params.posonly_params, *params.params, *params.kwonly_params)
    }
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names[star.name.value] = None
    body = function.body
    names.update(_bindings([body] if isinstance(body, cst.BaseExpression) else [body], module=False))
    return names


def _bindings(nodes: list[cst.CSTNode] | tuple[cst.CSTNode, ...], *, module: bool) -> _Scope:
    """Names bound in one scope by imports (dotted name) or anything else (None)."""
    found: _Scope = {}
    imports = ImportTracker()
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            imports.names.clear()
            (imports.visit_Import if isinstance(node, cst.Import) else imports.visit_ImportFrom)(node)
            found.update(imports.names)
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            found.setdefault(node.name.value, None)
            continue  # a scope of its own
        if isinstance(node, cst.Lambda):
            continue
        target = _target_of(node)
        if target is not None:
            for name in _names_in(target):
                found[name] = None
        stack.extend(reversed(node.children))
    if module:
        # At module level only imports count: ``Order = apps.get_model(...)`` there is unusual.
        found = {name: value for name, value in found.items() if value is not None}
    return found


def _target_of(node: cst.CSTNode) -> cst.CSTNode | None:
    if isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr)):
        return node.target
    if isinstance(node, (cst.WithItem,)) and node.asname is not None:
        return node.asname.name
    if isinstance(node, cst.ExceptHandler) and node.name is not None:
        return node.name.name
    if isinstance(node, (cst.Global, cst.Nonlocal)):
        return cst.Tuple([cst.Element(item.name) for item in node.names])
    return None


def _names_in(target: cst.CSTNode) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names_in(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names_in(target.value)


def _uses(function: cst.CSTNode, scopes: list[_Scope]) -> Iterator[tuple[cst.CSTNode, str]]:
    """The class expressions in the function's own body (not nested functions) used as
    ``apps.get_model()`` could stand in for them, with the dotted name they resolve to:
    ``Order.objects``, ``Order.DoesNotExist``, ``Order._meta``, ``Order(...)``."""
    params = function.params
    defaults = [param.default for param in (*params.posonly_params, *params.params, *params.kwonly_params)]
    stack: list[cst.CSTNode] = [function.body, *(d for d in defaults if d is not None)]
    #: ``Order.objects`` whose chain calls a custom manager or queryset method, which the
    #: historical model lacks.
    custom: set[int] = set()
    while stack:
        node = stack.pop()
        if type(node).__name__ in _FUNCTIONS or isinstance(node, (cst.ClassDef, cst.Import, cst.ImportFrom)):
            continue
        used = None
        if isinstance(node, cst.Attribute) and node.attr.value not in _MANAGER_API | _HISTORICAL_ATTRIBUTES:
            manager = _manager_of_chain(node.value)
            if manager is not None:
                custom.add(id(manager))
        if isinstance(node, cst.Attribute) and node.attr.value in _HISTORICAL_ATTRIBUTES and id(node) not in custom:
            used = node.value
        elif isinstance(node, cst.Call):
            used = node.func
        if isinstance(used, (cst.Name, cst.Attribute)):
            qualified = _resolve(used, scopes)
            if qualified is not None:
                yield used, qualified
        stack.extend(reversed(node.children))


def _manager_of_chain(node: cst.BaseExpression) -> cst.Attribute | None:
    """``Order.objects`` in ``Order.objects.filter(...)``: the manager a call chain starts from."""
    while True:
        if isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, cst.Attribute) and node.attr.value in _MANAGERS:
            return node
        elif isinstance(node, cst.Attribute) and node.attr.value in _MANAGER_API:
            node = node.value
        else:
            return None


def _resolve(node: cst.Name | cst.Attribute, scopes: list[_Scope]) -> str | None:
    """The dotted name ``Order`` / ``shop.models.Order`` stands for through an import."""
    if isinstance(node, cst.Attribute):
        base = _resolve(node.value, scopes) if isinstance(node.value, (cst.Name, cst.Attribute)) else None
        return None if base is None else f"{base}.{node.attr.value}"
    for scope in reversed(scopes):
        if node.value in scope:
            return scope[node.value]
    return None


def _label(ref: ClassRef, search_path: list[str]) -> str:
    """The app label Django gives the model: ``Meta.app_label``, the ``label`` of the
    app's ``AppConfig`` in its ``apps.py``, else the models module's package name."""
    label = ref.facts.meta.get("app_label")
    if isinstance(label, str):
        return label
    parts = ref.module.name.split(".")
    package = parts[: parts.index("models")] if "models" in parts[1:] else parts[:-1]
    if not package:
        return parts[0]
    for base in search_path:
        try:
            text = Path(base, *package, "apps.py").read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            continue
        labels = set(_APP_LABEL.findall(text))
        if len(labels) == 1:
            return labels.pop()
        break
    return package[-1]
