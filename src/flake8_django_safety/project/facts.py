"""What one module says about its classes, read with :mod:`ast` (never imported).

Facts are plain, picklable values so they can be cached on disk keyed by the
file's content. Names are stored qualified through the module's own imports
(``models.Model`` in a file that did ``from django.db import models`` is
``django.db.models.Model``); resolving them to other project files is the
index's job.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

#: Model hooks that make ``full_clean()`` enforce something ``save()`` does not.
VALIDATION_HOOKS = frozenset({"clean", "clean_fields", "validate_unique", "validate_constraints"})


@dataclass(frozen=True)
class FieldFacts:
    """A class-level ``name = SomeField(...)`` assignment."""

    name: str
    field_class: str
    has_validators: bool
    #: First positional argument or ``to=``, for relations (``"app.Model"``, a class name).
    target: str | None = None
    related_name: str | None = None
    related_query_name: str | None = None
    #: DRF serializer fields: ``source=``, ``many=True`` and ``method_name=`` when literal.
    source: str | None = None
    many: bool = False
    method_name: str | None = None


@dataclass(frozen=True)
class MethodFacts:
    """What one method does with ``self``: enough to tell which fields a hook
    reads, which fields a mutator writes, and whether a hook can reject anything."""

    #: ``self.<attr>`` loads (``self.item.event`` reads ``item``), calls excluded.
    reads: frozenset[str] = frozenset()
    #: ``self.<attr> = ...`` stores.
    writes: frozenset[str] = frozenset()
    #: Methods called on ``self`` (``self.clean_dates()``).
    self_calls: frozenset[str] = frozenset()
    #: ``self`` itself goes to another function: it may read any field.
    passes_self: bool = False
    #: ``setattr(self, name, ...)`` with a computed name, ``self.__dict__.update``.
    writes_any: bool = False
    #: Has ``raise`` / ``assert``, or calls something that might raise. Calls whose
    #: value is assigned to ``self.<attr>`` (normalisation) and ``super()`` calls
    #: do not count; ``self`` calls are judged by the index.
    may_raise: bool = False
    #: Dotted names of the functions it calls, qualified through the module's imports.
    calls: frozenset[str] = frozenset()
    #: Has a ``raise`` / ``assert`` of its own.
    raises: bool = False
    #: Attribute paths read on the first parameter after ``self`` (a serializer
    #: method's ``obj``): ``obj.author.name`` -> ``author.name``, ``obj.tags.all()``
    #: -> ``tags.all``. None when the parameter is used any other way (passed on,
    #: returned, subscripted): it may then be read in full.
    param_paths: frozenset[str] | None = frozenset()
    #: Names a list view's rows by (``object_list``, ``page_obj``, ``paginator``).
    touches_rows: bool = False
    #: Looks at who is asking or refuses (a DRF view's own access control):
    #: ``request.user`` / ``request.auth`` (``self.request`` too), ``PermissionDenied``,
    #: ``NotAuthenticated``, ``self.permission_denied()``, ``HttpResponseForbidden``,
    #: ``HTTP_401_UNAUTHORIZED`` / ``HTTP_403_FORBIDDEN`` or ``status=401`` / ``403``; or
    #: checks a credential the client sends: ``authenticate()``, ``check_password()``,
    #: ``check_token()``, a parameter named like a secret (``token``, ``activation_key``);
    #: or a decorator of the method names an access check (``@method_decorator(login_required)``,
    #: see ``GUARD_NAME``).
    checks_access: bool = False
    #: The last name of every call, whatever it is called on (``save`` for
    #: ``Order.objects.filter(...).first().save()``).
    called_names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ClassFacts:
    """One class of a module."""

    name: str
    qualname: str
    line: int
    bases: tuple[str, ...]
    methods: frozenset[str]
    fields: tuple[FieldFacts, ...]
    #: ``Meta`` attributes with literal values (``abstract``, ``model``, ``fields``...).
    meta: dict[str, object] = field(default_factory=dict)
    save_calls_full_clean: bool = False
    #: Methods that call ``full_clean()`` or ``clean()`` on anything.
    methods_calling_full_clean: frozenset[str] = frozenset()
    #: Per method (``clean``, mutators, serializer ``validate*``): see MethodFacts.
    method_facts: dict[str, MethodFacts] = field(default_factory=dict)
    #: Class-level assignments: a str/bool/int/None literal, a ``_Name`` for a
    #: dotted name, a tuple for a list of strings, ``...`` for anything else
    #: (``permission_classes``, ``id_prefix``, ``http_method_names``).
    attributes: dict[str, object] = field(default_factory=dict)
    #: The terms of a literal ``permission_classes = [...]`` (see ``permission_terms``);
    #: None when the class sets none, or sets one that is not a literal list.
    permission_classes: tuple[object, ...] | None = None
    #: The same for a literal ``filter_backends = [...]``.
    filter_backends: tuple[object, ...] | None = None
    #: A class decorator names an access check (``@method_decorator(login_required,
    #: name="dispatch")``, a project's ``@token_required``): see ``GUARD_NAME``.
    guarded_by_decorator: bool = False


@dataclass(frozen=True)
class FunctionViewFacts:
    """A module-level function decorated with DRF's ``@permission_classes(...)``."""

    name: str
    line: int
    #: ``@api_view([...])`` methods, upper case (``("GET",)`` for a bare ``@api_view()``);
    #: None without ``@api_view`` or when they are not literal.
    methods: tuple[str, ...] | None
    #: See ``permission_terms``; None when the decorator's argument is not a literal list.
    permission_classes: tuple[object, ...] | None


@dataclass(frozen=True)
class ModuleFacts:
    """The classes and imports of one module."""

    name: str
    is_package: bool
    imports: dict[str, str]
    classes: dict[str, ClassFacts]
    #: ``Product = get_model("catalogue", "Product")``: name -> ``@catalogue.Product``.
    model_aliases: dict[str, str] = field(default_factory=dict)
    #: Context managers defined here that roll back what their block wrote.
    rollback_contexts: frozenset[str] = frozenset()
    #: Modules this one does ``from <module> import *`` from, absolute.
    star_imports: tuple[str, ...] = ()
    #: Context managers defined here that open ``atomic()`` around their block.
    atomic_contexts: frozenset[str] = frozenset()
    #: A settings module's ``DATABASES["default"]["ATOMIC_REQUESTS"]``, when it sets it.
    atomic_requests: bool | None = None
    #: Names bound at module level (functions, classes, assignments, imports).
    names: frozenset[str] = frozenset()
    #: Settings this module sets (see ``SETTING_PATHS``): a tuple of dotted
    #: strings, or ``...`` when the value is computed.
    settings: dict[str, object] = field(default_factory=dict)
    #: Function views with ``@permission_classes(...)``, by name.
    function_views: dict[str, FunctionViewFacts] = field(default_factory=dict)

    def qualify(self, dotted: str) -> str:
        """``models.Model`` -> ``django.db.models.Model`` through this module's names.

        A name bound by ``get_model("app_label", "Model")`` qualifies to
        ``@app_label.Model``, which the index resolves through the app's folder.
        """
        head, _, rest = dotted.partition(".")
        if head in self.model_aliases:
            return self.model_aliases[head] if not rest else dotted
        if head in self.imports:
            base = self.imports[head]
        elif head in self.classes:
            base = f"{self.name}.{head}"
        else:
            return dotted
        return f"{base}.{rest}" if rest else base


def module_facts(name: str, source: str | bytes, *, is_package: bool = False) -> ModuleFacts:
    """Facts of module ``name``; a file that does not parse yields no classes."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ModuleFacts(name, is_package, {}, {})
    package = name if is_package else name.rpartition(".")[0]
    imports: dict[str, str] = {}
    stars: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    imports[alias.asname] = alias.name
                else:
                    head = alias.name.split(".", 1)[0]
                    imports[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is None:
                continue
            for alias in node.names:
                if alias.name != "*":
                    imports[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif node.col_offset == 0:
                    stars.append(base)
    rollback = frozenset(
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _rolls_back(node)
    )
    facts = ModuleFacts(
        name,
        is_package,
        imports,
        {},
        rollback_contexts=rollback,
        star_imports=tuple(stars),
        atomic_requests=_atomic_requests(tree.body),
        names=frozenset(imports) | _bound_names(tree.body),
        settings=_settings_values(tree.body),
        atomic_contexts=frozenset(
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _opens_atomic(node)
        ),
    )
    statements = list(_module_level(tree.body))
    local = {node.name for node in statements if isinstance(node, ast.ClassDef)}
    for node in statements:
        if isinstance(node, ast.ClassDef):
            facts.classes.setdefault(node.name, _class_facts(node, facts, local))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            view = _function_view(node)
            if view is not None:
                facts.function_views.setdefault(node.name, view)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            alias = _get_model_call(node.value)
            if alias is not None:
                facts.model_aliases[node.targets[0].id] = alias
    return facts


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of the module, also under module-level ``if`` / ``try``
    (``if not is_model_registered(...): class Product(AbstractProduct): ...``)."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level(node.body)


def _atomic_requests(body: list[ast.stmt]) -> bool | None:
    """``DATABASES = {"default": {..., "ATOMIC_REQUESTS": True}}`` or
    ``DATABASES["default"]["ATOMIC_REQUESTS"] = True`` at module level; the last wins."""
    found: bool | None = None
    for node in _module_level(body):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "DATABASES" and isinstance(node.value, ast.Dict):
            default = _dict_get(node.value, "default")
            value = _dict_get(default, "ATOMIC_REQUESTS") if isinstance(default, ast.Dict) else None
            found = value.value if isinstance(value, ast.Constant) and isinstance(value.value, bool) else False
        elif _subscript_path(target) == ["DATABASES", "default", "ATOMIC_REQUESTS"]:
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, bool):
                found = node.value.value
    return found


#: Settings the rules read: key -> (setting, key inside it).
SETTING_PATHS = {
    "DEFAULT_PERMISSION_CLASSES": ("REST_FRAMEWORK", "DEFAULT_PERMISSION_CLASSES"),
    "reusable_conditions": ("DRF_ACCESS_POLICY", "reusable_conditions"),
    "DEFAULT_FILTER_BACKENDS": ("REST_FRAMEWORK", "DEFAULT_FILTER_BACKENDS"),
}
#: Module-level calls that bring in settings we cannot read (django-split-settings).
_SETTINGS_INCLUDES = frozenset({"include", "exec", "optional"})


def _settings_values(body: list[ast.stmt]) -> dict[str, object]:
    """``REST_FRAMEWORK = {...}`` / ``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = [...]``
    and the like at module level: the dotted strings set (``()`` when the dict
    leaves the key out), ``...`` when computed or changed in a way we cannot read."""
    found: dict[str, object] = {}
    for node in _module_level(body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and last_name(node.value) in _SETTINGS_INCLUDES:
            found = dict.fromkeys(SETTING_PATHS, ...)
            continue
        for key, (setting, inner) in SETTING_PATHS.items():
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id == setting:
                    found[key] = _dict_setting(node.value, inner)
                    continue
                path = _subscript_path(target)
                if path[:1] == [setting]:
                    if path == [setting, inner]:
                        found[key] = _dotted_strings(node.value)
                    elif len(path) != 2:
                        found[key] = ...
                    continue
            if not isinstance(node, (ast.If, ast.Try, ast.Assign)) and any(
                isinstance(inner_node, ast.Name) and inner_node.id == setting for inner_node in ast.walk(node)
            ):
                found[key] = ...  # ``REST_FRAMEWORK.update(...)``, ``|=``; reading it into another name is fine
    return found


def _dict_setting(value: ast.expr, key: str) -> object:
    if not isinstance(value, ast.Dict):
        return ...
    inner = _dict_get(value, key)
    if inner is not None:
        return _dotted_strings(inner)
    return ... if None in value.keys else ()  # ``{**BASE, ...}`` may carry the key


def _dotted_strings(value: ast.expr) -> object:
    """``"a.B"`` or a list/tuple of such strings; ``...`` for anything else."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return (value.value,)
    if isinstance(value, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
    ):
        return tuple(e.value for e in value.elts)  # type: ignore[attr-defined]
    return ...


def _bound_names(body: list[ast.stmt]) -> frozenset[str]:
    """Names a module binds at its top level (what ``getattr(module, name)`` finds)."""
    names: set[str] = set()
    for node in _module_level(body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return frozenset(names)


def _dict_get(node: ast.Dict, key: str) -> ast.expr | None:
    for k, v in zip(node.keys, node.values):
        if isinstance(k, ast.Constant) and k.value == key:
            return v
    return None


def _subscript_path(node: ast.expr) -> list[str]:
    """``DATABASES["default"]["ATOMIC_REQUESTS"]`` -> its three parts."""
    parts: list[str] = []
    while isinstance(node, ast.Subscript):
        if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            return []
        parts.insert(0, node.slice.value)
        node = node.value
    return [node.id, *parts] if isinstance(node, ast.Name) else []


def last_name(node: ast.expr) -> str:
    """``atomic`` for ``transaction.atomic`` / ``transaction.atomic(using=db)`` /
    ``atomic``: the last part of a (called) dotted name, "" for anything else."""
    if isinstance(node, ast.Call):
        node = node.func
    return (dotted_name(node) or "").rpartition(".")[2]


def is_atomic_call(node: ast.expr) -> bool:
    """``transaction.atomic(...)`` / ``atomic(...)``, by name (the facts have no imports resolved)."""
    return isinstance(node, ast.Call) and last_name(node) == "atomic"


def opens_atomic_block(node: ast.AST) -> bool:
    """``with transaction.atomic(...):`` (sync or async ``with``)."""
    return isinstance(node, (ast.With, ast.AsyncWith)) and any(is_atomic_call(item.context_expr) for item in node.items)


def decorator_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return {last_name(decorator) for decorator in function.decorator_list}


def _opens_atomic(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A ``@contextmanager`` that yields inside ``with atomic():`` (perhaps only
    on one branch: ``conditional_atomic(condition)``), or a function returning
    ``atomic(...)``."""
    manager = "contextmanager" in decorator_names(function)
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None and is_atomic_call(node.value):
            return True
        if manager and opens_atomic_block(node) and any(
            isinstance(inner, (ast.Yield, ast.YieldFrom)) for inner in ast.walk(node)
        ):
            return True
    return False


def _rolls_back(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A ``@contextmanager`` that yields inside ``atomic()`` and then raises, or
    calls ``set_rollback(True)``: nothing its block writes is kept."""
    if not decorator_names(function) & {"contextmanager", "asynccontextmanager"}:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and last_name(node) == "set_rollback":
            if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value is True:
                return True
        if isinstance(node, (ast.With, ast.AsyncWith)) and opens_atomic_block(node):
            yielded = False
            for statement in node.body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, (ast.Yield, ast.YieldFrom)):
                    yielded = True
                elif yielded and isinstance(statement, ast.Raise):
                    return True
    return False


def _get_model_call(node: ast.expr) -> str | None:
    """``get_model("catalogue", "Product")`` / ``apps.get_model(...)`` -> ``@catalogue.Product``."""
    if not (isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords):
        return None
    callee = dotted_name(node.func)
    if callee is None or callee.rpartition(".")[2] != "get_model":
        return None
    label, model = (arg.value if isinstance(arg, ast.Constant) else None for arg in node.args)
    if isinstance(label, str) and isinstance(model, str) and label.isidentifier() and model.isidentifier():
        return f"@{label}.{model}"
    return None


def _absolute(module: str | None, level: int, package: str) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.C`` for a Name/Attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _class_facts(node: ast.ClassDef, module: ModuleFacts, local: set[str]) -> ClassFacts:
    bases = tuple(
        module.qualify(name) for base in node.bases if (name := dotted_name(base)) is not None
    )
    methods: set[str] = set()
    method_facts: dict[str, MethodFacts] = {}
    validating: set[str] = set()
    fields: list[FieldFacts] = []
    meta: dict[str, object] = {}
    attributes: dict[str, object] = {}
    permissions: tuple[object, ...] | None = None
    backends: tuple[object, ...] | None = None
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods.add(statement.name)
            method_facts[statement.name] = _method_facts(statement, module, local)
            if _calls_full_clean(statement):
                validating.add(statement.name)
        elif isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    found = _field(target.id, statement.value, module)
                    if found is not None:
                        fields.append(found)
        elif isinstance(statement, ast.ClassDef) and statement.name == "Meta":
            meta = _meta(statement)
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    attributes[target.id] = _attribute_value(statement.value)
                    if target.id == "permission_classes":
                        permissions = permission_terms(statement.value)
                    elif target.id == "filter_backends":
                        backends = permission_terms(statement.value)
    return ClassFacts(
        name=node.name,
        qualname=f"{module.name}.{node.name}",
        line=node.lineno,
        bases=bases,
        methods=frozenset(methods),
        fields=tuple(fields),
        meta=meta,
        save_calls_full_clean="save" in validating and _save_calls_self_full_clean(node),
        methods_calling_full_clean=frozenset(validating),
        method_facts=method_facts,
        attributes=attributes,
        permission_classes=permissions,
        filter_backends=backends,
        guarded_by_decorator=_guard_decorated(node),
    )


def _attribute_value(value: ast.expr) -> object:
    if isinstance(value, ast.Constant) and isinstance(value.value, (str, bool, int, type(None))):
        return value.value
    strings = _dotted_strings(value)
    if isinstance(value, (ast.List, ast.Tuple)) and isinstance(strings, tuple):
        return strings
    dotted = dotted_name(value)
    return _Name(dotted) if dotted is not None else ...


def permission_terms(value: ast.expr) -> tuple[object, ...] | None:
    """``[IsAuthenticated, perms.IsOwner | IsAdminUser]`` -> ``("IsAuthenticated",
    ("|", "perms.IsOwner", "IsAdminUser"))``: a dotted name as written, or
    ``("&" | "|", left, right)`` / ``("~", term)`` for DRF's operators; None for a
    term that is anything else (a call, ``*spread``). None when ``value`` is not a
    list or tuple literal."""
    if not isinstance(value, (ast.List, ast.Tuple)):
        return None
    return tuple(None if isinstance(element, ast.Starred) else _term(element) for element in value.elts)


def _term(node: ast.expr) -> object:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        return ("&" if isinstance(node.op, ast.BitAnd) else "|", _term(node.left), _term(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return ("~", _term(node.operand))
    return dotted_name(node)


def _function_view(function: ast.FunctionDef | ast.AsyncFunctionDef) -> FunctionViewFacts | None:
    """``@api_view([...])`` / ``@permission_classes([...])`` on a module-level function."""
    permissions: object = ...
    methods: tuple[str, ...] | None = None
    for decorator in function.decorator_list:
        name = last_name(decorator)
        call = decorator if isinstance(decorator, ast.Call) else None
        if name == "permission_classes" and call is not None:
            permissions = permission_terms(call.args[0]) if len(call.args) == 1 and not call.keywords else None
        elif name == "api_view":
            arguments = [] if call is None else [*call.args, *(k.value for k in call.keywords)]
            found = _dotted_strings(arguments[0]) if len(arguments) == 1 else None
            if not arguments and call is not None:
                methods = ("GET",)
            elif isinstance(found, tuple):
                methods = tuple(method.upper() for method in found)
    if permissions is ...:
        return None
    return FunctionViewFacts(function.name, function.lineno, methods, permissions)  # type: ignore[arg-type]


def _field(name: str, call: ast.Call, module: ModuleFacts) -> FieldFacts | None:
    callee = dotted_name(call.func)
    if callee is None:
        return None
    target = None
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        target = call.args[0].value
    elif call.args and (dotted := dotted_name(call.args[0])) is not None:
        target = module.qualify(dotted)
    literal: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg == "to":
            target = _literal_or_name(keyword.value, module)
        elif keyword.arg is not None and isinstance(keyword.value, ast.Constant):
            literal[keyword.arg] = keyword.value.value
    related, query, source, method_name = (
        literal.get(key) for key in ("related_name", "related_query_name", "source", "method_name")
    )
    return FieldFacts(
        name=name,
        field_class=module.qualify(callee),
        has_validators=any(k.arg == "validators" for k in call.keywords),
        target=target,
        related_name=None if related is None else str(related),
        related_query_name=None if query is None else str(query),
        source=source if isinstance(source, str) else None,
        many=literal.get("many") is True,
        method_name=method_name if isinstance(method_name, str) else None,
    )


def _literal_or_name(node: ast.expr, module: ModuleFacts) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    dotted = dotted_name(node)
    return module.qualify(dotted) if dotted else None


def _meta(node: ast.ClassDef) -> dict[str, object]:
    meta: dict[str, object] = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if not isinstance(target, ast.Name):
                continue
            try:
                meta[target.id] = ast.literal_eval(statement.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                dotted = dotted_name(statement.value)
                if dotted is not None:
                    meta[target.id] = _Name(dotted)
    return meta


class _Name(str):
    """A ``Meta`` value that is a name (``model = Order``), not a literal."""


def meta_name(value: object) -> str | None:
    return str(value) if isinstance(value, _Name) else None


def _calls_full_clean(function: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("full_clean", "clean")
        for node in ast.walk(function)
    )


def _save_calls_self_full_clean(node: ast.ClassDef) -> bool:
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == "save":
            for inner in ast.walk(statement):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "full_clean"
                    and isinstance(inner.func.value, ast.Name)
                    and inner.func.value.id == "self"
                ):
                    return True
    return False


#: Calls a hook makes without rejecting anything itself (builtins, translation).
QUIET_CALLS = frozenset(
    {"isinstance", "issubclass", "len", "str", "bool", "getattr", "hasattr", "any", "all",
     "min", "max", "set", "list", "tuple", "dict", "sorted", "super", "_", "gettext",
     "gettext_lazy", "ngettext", "format_lazy", "repr", "abs", "round"}
)  # fmt: skip


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _method_facts(
    function: ast.FunctionDef | ast.AsyncFunctionDef, module: ModuleFacts, local: set[str]
) -> MethodFacts:
    reads: set[str] = set()
    writes: set[str] = set()
    self_calls: set[str] = set()
    calls: set[str] = set()
    passes_self = writes_any = may_raise = raises = False
    normalising: set[int] = set()  # calls inside the value of ``self.x = ...``
    for node in ast.walk(function):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            assigns_self = all(isinstance(t, ast.Attribute) and _is_self(t.value) for t in targets)
            if targets and assigns_self and node.value is not None:
                normalising.update(id(inner) for inner in ast.walk(node.value) if isinstance(inner, ast.Call))
            for target in targets:
                if isinstance(target, ast.Attribute) and _is_self(target.value):
                    writes.add(target.attr)
    for node in ast.walk(function):
        if isinstance(node, (ast.Raise, ast.Assert)):
            may_raise = raises = True
        elif isinstance(node, ast.Attribute) and _is_self(node.value) and isinstance(node.ctx, ast.Load):
            reads.add(node.attr)
        elif isinstance(node, ast.Call):
            func = node.func
            callee = dotted_name(func)
            if isinstance(func, ast.Attribute) and _is_self(func.value):
                self_calls.add(func.attr)
                reads.discard(func.attr)
            elif callee is not None:
                # classes of this module (``OrderLine.check(...)`` inside OrderLine) qualify too
                head = callee.partition(".")[0]
                qualified = module.qualify(callee)
                calls.add(f"{module.name}.{callee}" if qualified == callee and head in local else qualified)
            if any(_is_self(arg) for arg in (*node.args, *(k.value for k in node.keywords))):
                if callee == "setattr" and node.args and _is_self(node.args[0]):
                    if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                        writes.add(str(node.args[1].value))
                    else:
                        writes_any = True
                elif callee in ("getattr", "hasattr") and _is_self(node.args[0]):
                    if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                        reads.add(str(node.args[1].value))
                    else:
                        passes_self = True
                elif callee not in ("isinstance", "super"):
                    passes_self = True
            if callee in ("self.__dict__.update",):
                writes_any = True
            quiet = (
                id(node) in normalising
                or (isinstance(func, ast.Attribute) and (_is_self(func.value) or _is_super_call(func.value)))
                or callee in QUIET_CALLS
            )
            may_raise = may_raise or not quiet
    return MethodFacts(
        reads=frozenset(reads - self_calls),
        writes=frozenset(writes),
        self_calls=frozenset(self_calls),
        passes_self=passes_self,
        writes_any=writes_any,
        may_raise=may_raise,
        calls=frozenset(calls),
        raises=raises,
        param_paths=_param_paths(function),
        touches_rows=any(
            (isinstance(node, ast.Name) and node.id in _ROW_NAMES)
            or (isinstance(node, ast.Attribute) and node.attr in _ROW_NAMES)
            or (isinstance(node, ast.Constant) and node.value in _ROW_NAMES)
            for node in ast.walk(function)
        ),
        checks_access=_checks_access(function),
        called_names=frozenset(
            name for node in ast.walk(function) if isinstance(node, ast.Call) and (name := _call_name(node.func))
        ),
    )


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


#: Names whose mention in a view's method means it refuses some requests itself.
_REFUSALS = frozenset(
    {"PermissionDenied", "NotAuthenticated", "permission_denied", "HttpResponseForbidden",
     "HTTP_401_UNAUTHORIZED", "HTTP_403_FORBIDDEN"}
)  # fmt: skip


#: Calls that check a credential the client sent.
_CREDENTIAL_CHECKS = frozenset({"authenticate", "check_password", "check_token", "login"})
#: URL keywords that carry a secret (``token``, ``activation_key``, ``signature``).
_SECRET_PARAMETER = re.compile(r"token|key|secret|signature|hash", re.IGNORECASE)


#: A decorator that names one of these words checks who is asking (``login_required``,
#: ``permission_required``, ``staff_member_required``, ``user_passes_test``, ``token_required``).
GUARD_NAME = re.compile(r"login|permission|auth|staff|superuser|user_passes|required", re.IGNORECASE)


def _guard_decorated(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A decorator of ``node`` names an access check (see ``GUARD_NAME``)."""
    for decorator in node.decorator_list:
        for inner in ast.walk(decorator):
            name = inner.id if isinstance(inner, ast.Name) else inner.attr if isinstance(inner, ast.Attribute) else ""
            if name and GUARD_NAME.search(name):
                return True
    return False


def _checks_access(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """See ``MethodFacts.checks_access``."""
    if _guard_decorated(function):
        return True
    params = [arg.arg for arg in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)]
    if any(_SECRET_PARAMETER.search(name) for name in params[2:]):
        return True  # a URL keyword (``uid, token``): the link itself is the credential
    requests = {"request", *params[1:2]}
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and last_name(node.func) in _CREDENTIAL_CHECKS:
            return True
        if isinstance(node, ast.Attribute):
            if node.attr in _REFUSALS:
                return True
            if node.attr in ("user", "auth"):
                value = node.value
                if isinstance(value, ast.Name) and value.id in requests:
                    return True
                if isinstance(value, ast.Attribute) and value.attr == "request" and _is_self(value.value):
                    return True
        elif isinstance(node, ast.Name) and node.id in _REFUSALS:
            return True
        elif isinstance(node, ast.keyword) and node.arg in ("status", "status_code"):
            if isinstance(node.value, ast.Constant) and node.value.value in (401, 403):
                return True
    return False


#: What a list view's context calls its rows.
_ROW_NAMES = frozenset({"object_list", "page_obj", "paginator"})


def _param_paths(function: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str] | None:
    """See ``MethodFacts.param_paths``: up to two attribute names per use."""
    if len(function.args.args) < 2:
        return frozenset()
    param = function.args.args[1].arg
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(function):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    paths: set[str] = set()
    for node in ast.walk(function):
        if not (isinstance(node, ast.Name) and node.id == param and isinstance(node.ctx, ast.Load)):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, (ast.Compare, ast.BoolOp)) or (isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)):
            continue  # ``obj is None``, ``if not obj``: nothing read
        if not isinstance(parent, ast.Attribute):
            return None
        path = parent.attr
        grand = parents.get(id(parent))
        if isinstance(grand, ast.Attribute):
            path = f"{path}.{grand.attr}"
        paths.add(path)
    return frozenset(paths)


def _is_super_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
