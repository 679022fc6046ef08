"""Where the project calls a function or method, and what each call hands it.

DJS303 asks two things of the callers of a method that bumps a counter on
``self`` (or on a parameter): does every call hand it a row loaded at or after
a ``select_for_update()`` on the same rows, in the same ``atomic()`` block
(then the bump cannot lose an update), and does every call turn off the flag
that guards the bump (then it is never reached)?

Calls are found by name in the project modules whose text says ``name(`` (see
``ProjectIndex.modules_mentioning``), test modules left out, and read with
:mod:`ast`. A call whose arguments cannot bind to the function's parameters is
a call of another function of that name; a call that cannot be read
(``*args``, a receiver that is neither a name nor ``self``) makes the answer
"no": the rule keeps its report, since silence needs every call understood.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety.orm import PAIR_READS, QUERYSET_METHODS, ROW_READS

if TYPE_CHECKING:
    from pathlib import Path

    from flake8_django_safety.project import ProjectIndex
    from flake8_django_safety.settings import Settings

_Function = ast.FunctionDef | ast.AsyncFunctionDef
#: How many callers up a receiver is followed (``record_voucher_usage(voucher)`` -> ``place_order``).
_MAX_DEPTH = 4
_UNKNOWN = object()


@dataclass(frozen=True)
class Signature:
    """What a call of a function or method can bind to."""

    name: str
    #: Positional-or-keyword parameters, ``self`` / ``cls`` of a method left out.
    params: tuple[str, ...]
    required: int
    kwonly: frozenset[str] = frozenset()
    varargs: bool = False
    varkw: bool = False
    #: Qualified name of the class for a method; None for a function.
    owner: str | None = None
    #: Parameters whose default is a literal that is false (``False``, ``None``, ``0``).
    off_by_default: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class _Tree:
    name: str
    tree: ast.Module
    parents: dict[int, ast.AST]


@dataclass(frozen=True)
class _Site:
    tree: _Tree
    call: ast.Call
    function: _Function | None
    #: The class ``function`` is defined in (directly), if any.
    owner: ast.ClassDef | None


def receivers_locked(project: ProjectIndex, settings: Settings, signature: Signature, param: str | None) -> bool:
    """Every project call of the function hands it, as ``param`` (None: the
    receiver of the method), a row loaded at or after a ``select_for_update()``
    on the same rows inside the caller's ``atomic()`` block; callers are
    followed up when they pass on their own parameter or ``self``."""
    return _receivers_locked(project, settings, signature, param, 0)


def never_passed(project: ProjectIndex, settings: Settings, signature: Signature, param: str) -> bool:
    """The function has project calls and every one of them leaves ``param`` off:
    a literal ``False`` / ``None`` / ``0``, or no value when the default is one."""
    calls = _calls(project, settings, signature)
    if not calls:
        return False
    for _site, bound in calls:
        if bound is None:
            return False
        value = bound.get(param)
        if value is None:
            if param not in signature.off_by_default:
                return False
        elif not (isinstance(value, ast.Constant) and value.value in (False, None, 0)):
            return False
    return True


# -- calls ---------------------------------------------------------------------------


def _calls(
    project: ProjectIndex, settings: Settings, signature: Signature
) -> list[tuple[_Site, dict[str, ast.expr] | None]]:
    """The calls that may be calls of this function, each with its arguments by
    parameter name (None when they cannot be read)."""
    found: list[tuple[_Site, dict[str, ast.expr] | None]] = []
    for site in _sites(project, settings, signature.name):
        if not _may_target(project, site, signature):
            continue
        bound = _bind(site.call, signature)
        if bound is not _UNKNOWN and bound is None:
            continue  # the arguments fit another function of that name
        found.append((site, None if bound is _UNKNOWN else bound))  # type: ignore[arg-type]
    return found


def _sites(project: ProjectIndex, settings: Settings, name: str) -> list[_Site]:
    key = ("call_sites", name, settings.test_patterns)
    return project.memoised(key, lambda: _find_sites(project, settings, name))  # type: ignore[return-value]


def _find_sites(project: ProjectIndex, settings: Settings, name: str) -> list[_Site]:
    found: list[_Site] = []
    for module, path in project.modules_mentioning((f"{name}(",)):
        if _is_test(project, path, settings):
            continue
        tree = _tree(project, module, path)
        if tree is None:
            continue
        for node in ast.walk(tree.tree):
            if isinstance(node, ast.Call) and _called_name(node.func) == name:
                function, owner = _enclosing(tree, node)
                found.append(_Site(tree, node, function, owner))
    return found


def _tree(project: ProjectIndex, module: str, path: Path) -> _Tree | None:
    def parse() -> _Tree | None:
        text = project.source_text(module, path)
        if text is None:
            return None
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        return _Tree(module, tree, parents)

    return project.memoised(("call_sites_tree", module), parse)  # type: ignore[return-value]


def _is_test(project: ProjectIndex, path: Path, settings: Settings) -> bool:
    try:
        relative = path.resolve().relative_to(project.root)
    except (ValueError, OSError):
        relative = path
    return settings.is_test_file(relative.as_posix())


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _enclosing(tree: _Tree, node: ast.AST) -> tuple[_Function | None, ast.ClassDef | None]:
    current = tree.parents.get(id(node))
    while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        current = tree.parents.get(id(current))
    if not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None, None
    owner = tree.parents.get(id(current))
    return current, owner if isinstance(owner, ast.ClassDef) else None


def _bind(call: ast.Call, signature: Signature) -> dict[str, ast.expr] | None | object:
    """Arguments by parameter name; None when they cannot bind; _UNKNOWN for ``*a`` / ``**k``."""
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(k.arg is None for k in call.keywords):
        return _UNKNOWN
    if len(call.args) > len(signature.params) and not signature.varargs:
        return None
    bound: dict[str, ast.expr] = dict(zip(signature.params, call.args))
    for keyword in call.keywords:
        assert keyword.arg is not None
        if keyword.arg in bound:
            return None
        if keyword.arg not in signature.params and keyword.arg not in signature.kwonly and not signature.varkw:
            return None
        bound[keyword.arg] = keyword.value
    if any(param not in bound for param in signature.params[: signature.required]):
        return None
    return bound


def _may_target(project: ProjectIndex, site: _Site, signature: Signature) -> bool:
    """The call may run this function: a method is called on something, and
    ``self.m()`` / ``super().m()`` in an unrelated class that has its own ``m`` is not ours."""
    func = site.call.func
    if signature.owner is None:
        return True
    if not isinstance(func, ast.Attribute):
        return False
    receiver = func.value
    on_self = isinstance(receiver, ast.Name) and receiver.id in ("self", "cls")
    if not (on_self or _is_super(receiver)) or site.owner is None:
        return True
    ancestry = _ancestry(project, f"{site.tree.name}.{site.owner.name}")
    if ancestry is None:
        return True  # cannot tell
    if _is_super(receiver):
        return signature.owner in ancestry[1:]
    defines = any(
        isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == signature.name
        for item in site.owner.body
    )
    return signature.owner in ancestry or not defines


def _ancestry(project: ProjectIndex, qualname: str) -> list[str] | None:
    ref = project.resolve_class(qualname)
    if ref is None:
        return None
    return [item if isinstance(item, str) else item.qualname for item in project.ancestry(ref)]


def _is_super(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def signature_of(function: _Function, owner: str | None) -> Signature:
    """The signature of a function definition (``owner``: the qualified name of
    its class when it is a method)."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults = dict(zip([a.arg for a in positional][len(positional) - len(args.defaults) :], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    static = any(_last_name(d) == "staticmethod" for d in function.decorator_list)
    names = [a.arg for a in positional]
    if owner is not None and not static and names:
        names = names[1:]
    off = frozenset(
        name for name, value in defaults.items() if isinstance(value, ast.Constant) and value.value in (False, None, 0)
    )
    return Signature(
        function.name,
        tuple(names),
        len(names) - len([n for n in names if n in defaults]),
        frozenset(a.arg for a in args.kwonlyargs),
        args.vararg is not None,
        args.kwarg is not None,
        owner if not static else None,
        off,
    )


# -- locked receivers ----------------------------------------------------------------


def _receivers_locked(
    project: ProjectIndex, settings: Settings, signature: Signature, param: str | None, depth: int
) -> bool:
    if depth > _MAX_DEPTH:
        return False
    calls = _calls(project, settings, signature)
    if not calls:
        return False  # public API, or called in a way we cannot find: keep the report
    for site, bound in calls:
        if bound is None:
            return False
        expression = site.call.func.value if param is None else bound.get(param)  # type: ignore[attr-defined]
        if expression is None or not _locked_at(project, settings, site, expression, depth):
            return False
    return True


def _locked_at(project: ProjectIndex, settings: Settings, site: _Site, expression: ast.expr, depth: int) -> bool:
    function = site.function
    if function is None:
        return False
    owner = None if site.owner is None else f"{site.tree.name}.{site.owner.name}"
    signature = signature_of(function, owner)
    positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    if _is_super(expression) or (
        isinstance(expression, ast.Name) and owner is not None and positional[:1] == [expression.id]
        and signature.owner is not None
    ):
        if isinstance(expression, ast.Name) and _while_adding(site, function, expression.id):
            return True
        return _receivers_locked(project, settings, signature, None, depth + 1)
    if not isinstance(expression, ast.Name):
        return False
    binding, load = _binding(site, function, expression.id)
    if binding is None and (expression.id in signature.params or expression.id in signature.kwonly):
        return _receivers_locked(project, settings, signature, expression.id, depth + 1)
    return binding is not None and load is not None and _loaded_locked(site, function, binding, load)


def _binding(site: _Site, function: _Function, name: str) -> tuple[ast.AST | None, ast.expr | None]:
    """The last statement before the call that binds ``name`` (an enclosing ``for``
    or an assignment), and the queryset it reads the row from (None: not a row read)."""
    call = site.call
    binding: ast.AST | None = None
    load: ast.expr | None = None
    for node in ast.walk(function):
        if not _before(node, call):
            continue
        if node is not function and not isinstance(node, (ast.For, ast.AsyncFor)) and _inside(site.tree, call, node):
            continue  # ``device = device if device.check() else None`` binds after the call
        if isinstance(node, (ast.AugAssign, ast.NamedExpr)) and _names(node.target, name):
            binding, load = node, None
            continue
        if isinstance(node, (ast.For, ast.AsyncFor)) and _names(node.target, name) and _inside(site.tree, call, node):
            candidate: ast.expr | None = node.iter
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not any(_names(target, name, first=True) for target in targets):
                continue
            candidate = _row_source(node.value, pair=any(isinstance(t, (ast.Tuple, ast.List)) for t in targets))
        else:
            continue
        if binding is None or _position(node) > _position(binding):
            binding, load = node, candidate
    return binding, load


def _loaded_locked(site: _Site, function: _Function, binding: ast.AST, load: ast.expr) -> bool:
    """The row was loaded by a locking queryset, or from the same manager or
    relation after one was evaluated, all in one ``atomic()``."""
    call = site.call
    methods, root = _chain(load)
    if not set(methods) <= QUERYSET_METHODS:
        return False
    if "select_for_update" in methods:
        # Locked; outside a transaction that lock is DJS301's report, and
        # fixing it is what makes this update safe.
        return True
    scope = _atomic_scope(site.tree, binding, function)
    if scope is None or not _inside(site.tree, call, scope):
        return False
    if not methods and isinstance(root, ast.Name) and _local_locks(function, root.id, binding):
        return True
    for node in ast.walk(scope):
        lock = _evaluated_lock(node)
        if lock is None or not _position(node) < _position(binding):
            continue
        if ast.dump(_chain(lock)[1]) == ast.dump(root):
            return True
    return False


def _while_adding(site: _Site, function: _Function, name: str) -> bool:
    """``self.method()`` in the model's own ``save()`` under ``if self._state.adding:``
    (or a local bound to it): the row was inserted by this very save, in its
    transaction, and no other execution can have read it yet."""
    if function.name not in ("save", "asave"):
        return False
    flags = {
        target.id
        for node in ast.walk(function)
        if isinstance(node, ast.Assign) and _is_adding(node.value, name)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    current = site.tree.parents.get(id(site.call))
    while current is not None and current is not function:
        if isinstance(current, ast.If) and (
            _is_adding(current.test, name) or (isinstance(current.test, ast.Name) and current.test.id in flags)
        ) and any(_inside(site.tree, site.call, statement) for statement in current.body):
            return True
        current = site.tree.parents.get(id(current))
    return False


def _is_adding(node: ast.expr, name: str) -> bool:
    """``self._state.adding``."""
    return (
        isinstance(node, ast.Attribute) and node.attr == "adding"
        and isinstance(node.value, ast.Attribute) and node.value.attr == "_state"
        and isinstance(node.value.value, ast.Name) and node.value.value.id == name
    )  # fmt: skip


def _local_locks(function: _Function, name: str, before: ast.AST) -> bool:
    """Every binding of local ``name`` before ``before`` is a locking queryset, or
    refines one (``qs = qs.filter(...)``, ``qs = qs[:limit]``): ``qs =
    Model.objects.select_for_update(); ...; for row in qs:``."""
    fresh = False
    for node in ast.walk(function):
        if not _before(node, before):
            continue
        if isinstance(node, (ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            targets = [node.target] if hasattr(node, "target") else [item.optional_vars for item in node.items]
            if any(target is not None and name in {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} for target in targets):
                return False
            continue
        if not isinstance(node, ast.Assign) or not any(
            name in {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} for target in node.targets
        ):
            continue
        if len(node.targets) != 1 or not _names(node.targets[0], name):
            return False  # unpacked or chained: not followed
        value = node.value
        while isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Slice):
            value = value.value
        methods, root = _chain(value)
        if isinstance(root, ast.Name) and root.id == name:
            continue  # refines the queryset the name already holds
        if "select_for_update" not in methods:
            return False
        fresh = True
    return fresh


def _row_source(value: ast.expr, *, pair: bool) -> ast.expr | None:
    """The queryset a row read takes its row from: ``qs.get()`` -> ``qs``,
    ``get_object_or_404(qs, ...)`` -> ``qs``, ``qs.get_or_create()`` (a pair) -> ``qs``."""
    if isinstance(value, ast.Await):
        value = value.value
    if not isinstance(value, ast.Call):
        return None
    reads = PAIR_READS if pair else ROW_READS
    if isinstance(value.func, ast.Attribute) and value.func.attr in reads:
        return value.func.value
    if not pair and _called_name(value.func) == "get_object_or_404" and value.args:
        return value.args[0]
    return None


def _evaluated_lock(node: ast.AST) -> ast.expr | None:
    """A ``select_for_update()`` queryset this statement evaluates: iterated, or
    read a row from (``for v in qs.select_for_update():``, ``qs.select_for_update().get()``)."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        source: ast.expr | None = node.iter
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ROW_READS | PAIR_READS:
        source = node.func.value
    elif isinstance(node, ast.Call) and _called_name(node.func) in ("list", "get_object_or_404") and node.args:
        source = node.args[0]
    else:
        return None
    methods, _root = _chain(source)
    return source if "select_for_update" in methods and set(methods) <= QUERYSET_METHODS else None


def _chain(node: ast.expr) -> tuple[list[str], ast.expr]:
    """``basket.vouchers.select_for_update()`` -> ([select_for_update], ``basket.vouchers``)."""
    methods: list[str] = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERYSET_METHODS:
        methods.append(node.func.attr)
        node = node.func.value
    return methods, node


def _atomic_scope(tree: _Tree, node: ast.AST, function: _Function) -> ast.AST | None:
    """The nearest ``with atomic():`` block around ``node``, or the function when
    it is decorated with ``atomic``."""
    current = tree.parents.get(id(node))
    while current is not None and current is not function:
        if isinstance(current, (ast.With, ast.AsyncWith)) and any(
            _last_name(item.context_expr) == "atomic" for item in current.items
        ):
            return current
        current = tree.parents.get(id(current))
    if any(_last_name(decorator) == "atomic" for decorator in function.decorator_list):
        return function
    return None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _names(target: ast.expr, name: str, *, first: bool = False) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if first and isinstance(target, (ast.Tuple, ast.List)) and target.elts:
        return isinstance(target.elts[0], ast.Name) and target.elts[0].id == name
    return False


def _inside(tree: _Tree, node: ast.AST, ancestor: ast.AST) -> bool:
    current: ast.AST | None = node
    while current is not None:
        if current is ancestor:
            return True
        current = tree.parents.get(id(current))
    return False


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _before(node: ast.AST, call: ast.Call) -> bool:
    return hasattr(node, "lineno") and _position(node) < _position(call)
