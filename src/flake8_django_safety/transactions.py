"""Where a transaction is guaranteed, and where a locking queryset is evaluated.

Shared by DJS301 (evaluated outside any transaction) and DJS302 (evaluated
after the atomic block that built it). Coverage is lexical, as Python sees it:
``with transaction.atomic():`` blocks, ``@atomic`` on the function,
``method_decorator(atomic, name="dispatch")`` on a class-based view, and views
when the project runs with ``ATOMIC_REQUESTS``. A nested function does not
inherit its parent's block: it may run after the block has ended.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.project.facts import decorator_names, last_name, opens_atomic_block
from flake8_django_safety.orm import QUERYSET_METHODS, qualified_name
from flake8_django_safety.rule import FileContext, Rule
from flake8_django_safety.syntax import descendants

if TYPE_CHECKING:
    import libcst

ATOMIC = "django.db.transaction.atomic"

#: Queryset methods that return a queryset (the lock travels along, also to dicts and tuples).
CHAINABLE = QUERYSET_METHODS | {"values", "values_list"}
#: Queryset methods that run the query.
EVALUATING = frozenset(
    {"get", "first", "last", "latest", "earliest", "exists", "count", "in_bulk", "iterator",
     "aget", "afirst", "alast", "alatest", "aearliest", "aexists", "acount", "ain_bulk",
     "aiterator", "contains", "acontains"}
)  # fmt: skip
#: Builtins that iterate (or size) their argument.
EVALUATING_BUILTINS = frozenset({"list", "len", "bool", "tuple", "set", "sorted", "any", "all", "sum", "dict"})
#: Handler methods of class-based views (plus ``perform_*`` and ``@action`` methods).
HANDLERS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "dispatch", "list", "create",
     "retrieve", "update", "partial_update", "destroy", "form_valid", "form_invalid"}
)  # fmt: skip
#: Base class names that make a class a view (``ListView``, ``ModelViewSet``, ``GenericAPIView``...).
VIEW_BASE_SUFFIXES = ("View", "ViewSet", "APIView", "ViewMixin")


@dataclass(frozen=True)
class CallGraph:
    """What this module tells about its functions, by name (see ``_call_graph``)."""

    #: Run in a transaction from start to end.
    covered: frozenset[str] = frozenset()
    #: Known to run outside one.
    exposed: frozenset[str] = frozenset()
    #: ``if`` tests (whitespace removed) that open an ``atomic()`` block in their
    #: body: ``if self.is_atomic: with atomic(): ...``. A lock taken under the
    #: same test is taken exactly when the transaction is there.
    atomic_guards: frozenset[str] = frozenset()


@dataclass
class Frame:
    """One function being visited."""

    #: The function runs in a transaction from start to end.
    covered: bool
    #: Known to run outside one: an entry point (view, task, command, signal
    #: receiver), module level, or called from such code in this module.
    exposed: bool = True
    node: libcst.FunctionDef | None = None
    #: ``with atomic():`` blocks open at this point of the function.
    depth: int = 0
    #: Locals bound to a locking queryset -> the block depth they were built at.
    locked: dict[str, int] = field(default_factory=dict)


class LockTracker(Rule, register=False):
    """Finds evaluations of ``select_for_update()`` querysets and tells, for each,
    whether a transaction covers it; subclasses decide what to report."""

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.frames: list[Frame] = [Frame(covered=False)]
        #: Per class being visited: whether the whole class runs atomically.
        self.classes: list[bool] = []
        self._factories: frozenset[str] | None = None
        self._call_graph: CallGraph | None = None
        self._atomic_requests: bool | None = None
        #: ``select_for_update()`` calls under an ``if`` that also decides the transaction.
        self._flag_locks: set[int] = set()

    @classmethod
    def triggered_by(cls, text, settings) -> bool:  # type: ignore[no-untyped-def]
        return "select_for_update" in text.text

    # -- what runs in a transaction --------------------------------------------

    def _qualified(self, node: libcst.BaseExpression) -> str | None:
        if isinstance(node, cst.Call):
            node = node.func
        return self.context.imports.qualify(node)

    def _is_atomic(self, node: libcst.BaseExpression) -> bool:
        return self._qualified(node) == ATOMIC

    def _opens_atomic(self, node: libcst.BaseExpression) -> bool:
        """``with atomic():`` or a project context manager that opens one."""
        if self._is_atomic(node):
            return True
        project = self.context.project
        qualified = qualified_name(self.context, node.func) if isinstance(node, cst.Call) else None
        return project is not None and qualified is not None and project.opens_atomic(qualified)

    def _opens_block(self, node: libcst.CSTNode) -> bool:
        """Whether ``node`` holds a ``with`` that opens an ``atomic()`` block."""
        return any(
            isinstance(inner, cst.With) and any(self._opens_atomic(item.item) for item in inner.items)
            for inner in descendants(node)
        )

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        self.classes.append(any(self._method_decorator_atomic(d.decorator) for d in node.decorators))

    def leave_ClassDef(self, original_node: libcst.ClassDef) -> None:
        self.classes.pop()

    def _method_decorator_atomic(self, decorator: libcst.BaseExpression) -> bool:
        """``method_decorator(transaction.atomic, name="dispatch")``."""
        if not isinstance(decorator, cst.Call) or not decorator.args:
            return False
        callee = self._qualified(decorator.func) or ""
        return callee.endswith("method_decorator") and self._is_atomic(decorator.args[0].value)

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        parent = self.frames[-1]
        # A nested function runs when its parent lets it: exposed if the parent is.
        exposed = node.name.value in self.call_graph.exposed or (parent.node is not None and parent.exposed)
        self.frames.append(Frame(covered=self._function_covered(node), node=node, exposed=exposed))

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        self.frames.pop()

    def _function_covered(self, node: libcst.FunctionDef) -> bool:
        """Decorated with ``atomic`` (also through ``method_decorator``), in a class
        whose ``dispatch`` is, or covered as the module's call graph says (every
        caller covered, a view under ``ATOMIC_REQUESTS``)."""
        if any(self._is_atomic(d.decorator) or self._method_decorator_atomic(d.decorator) for d in node.decorators):
            return True
        in_class = bool(self.classes) and self.frames[-1].node is None
        if in_class and self.classes[-1]:
            return True  # method_decorator(atomic, name="dispatch") on the view
        return node.name.value in self.call_graph.covered

    @property
    def atomic_requests(self) -> bool:
        if self._atomic_requests is None:
            override = self.settings.atomic_requests_override
            project = self.context.project
            self._atomic_requests = (
                override if override is not None else project is not None and project.atomic_requests()
            )
        return self._atomic_requests

    def visit_If(self, node: libcst.If) -> None:
        guards = self.call_graph.atomic_guards
        if guards and _normalised(self.context.module.code_for_node(node.test)) in guards and not self._opens_block(node.body):
            # Another ``if`` with this test opens the block around the code that
            # gets here. In an ``if`` that opens the block itself, a lock outside
            # that block runs before the transaction exists.
            for found in _lock_calls(node.body):
                self._flag_locks.add(id(found))

    def visit_With(self, node: libcst.With) -> None:
        if any(self._opens_atomic(item.item) for item in node.items):
            self.frames[-1].depth += 1

    def leave_With(self, original_node: libcst.With) -> None:
        if any(self._opens_atomic(item.item) for item in original_node.items):
            self.frames[-1].depth -= 1

    # -- locking querysets -----------------------------------------------------

    @property
    def factories(self) -> frozenset[str]:
        """Functions and methods of this module that return a locking queryset."""
        if self._factories is None:
            self._factories = _factories(self.context.source or self.context.module.code)
        return self._factories

    @property
    def call_graph(self) -> CallGraph:
        """What this module tells about its functions: see ``_call_graph``."""
        if self._call_graph is None:
            self._call_graph = _call_graph(self.context.source or self.context.module.code, self.atomic_requests)
        return self._call_graph

    def built_at(self, node: libcst.BaseExpression) -> int | None:
        """The block depth a locking queryset was built at, or None when ``node``
        is not one (through chained queryset methods, locals and factories)."""
        frame = self.frames[-1]
        while True:
            if isinstance(node, cst.Await):
                node = node.expression
            if isinstance(node, cst.Name):
                return frame.locked.get(node.value)
            if not (isinstance(node, cst.Call) and isinstance(node.func, (cst.Attribute, cst.Name))):
                return None
            func = node.func
            if isinstance(func, cst.Name):
                return frame.depth if func.value in self.factories else None
            if func.attr.value == "select_for_update":
                return None if id(node) in self._flag_locks else frame.depth
            if isinstance(func.value, cst.Name) and func.value.value == "self" and func.attr.value in self.factories:
                return frame.depth
            if func.attr.value not in CHAINABLE:
                return None
            node = func.value

    def leave_Assign(self, original_node: libcst.Assign) -> None:
        frame = self.frames[-1]
        for target in original_node.targets:
            if isinstance(target.target, cst.Name):
                depth = self.built_at(original_node.value)
                if depth is None:
                    frame.locked.pop(target.target.value, None)
                else:
                    frame.locked[target.target.value] = depth

    # -- evaluations -------------------------------------------------------------

    def visit_Call(self, node: libcst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in EVALUATING:
            self._evaluated(node, func.value)
        elif isinstance(func, cst.Name) and func.value in EVALUATING_BUILTINS and node.args:
            self._evaluated(node, node.args[0].value)

    def visit_For(self, node: libcst.For) -> None:
        self._evaluated(node.iter, node.iter)

    def visit_CompFor(self, node: libcst.CompFor) -> None:
        self._evaluated(node.iter, node.iter)

    def visit_Subscript(self, node: libcst.Subscript) -> None:
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            index = node.slice[0].slice.value
            if isinstance(index, cst.Integer) or (
                isinstance(index, cst.UnaryOperation) and isinstance(index.expression, cst.Integer)
            ):
                self._evaluated(node, node.value)

    def visit_ComparisonTarget(self, node: libcst.ComparisonTarget) -> None:
        if isinstance(node.operator, (cst.In, cst.NotIn)):
            self._evaluated(node.comparator, node.comparator)

    def _evaluated(self, where: libcst.CSTNode, queryset: libcst.BaseExpression) -> None:
        depth = self.built_at(queryset)
        if depth is None:
            return
        frame = self.frames[-1]
        if frame.covered or frame.depth > 0:
            return
        self.evaluated_outside(where, frame, after_block=depth > frame.depth)

    def evaluated_outside(self, node: libcst.CSTNode, frame: Frame, *, after_block: bool) -> None:
        """A locking queryset is evaluated where no transaction covers it."""
        raise NotImplementedError


def _factories(source: str) -> frozenset[str]:
    """Names of the functions and methods whose ``return`` / ``yield`` hands out
    an unevaluated ``select_for_update()`` queryset."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            value = inner.value if isinstance(inner, (ast.Return, ast.Yield)) else None
            if value is not None and _locks(value):
                found.add(node.name)
                break
    return frozenset(found)


def _locks(node: ast.expr) -> bool:
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "select_for_update":
            return True
        if node.func.attr not in CHAINABLE:
            return False
        node = node.func.value
    return False


#: Decorators that make a function an entry point: tasks, signal receivers, DRF views.
ENTRY_DECORATORS = frozenset({"task", "shared_task", "periodic_task", "receiver", "actor", "job", "api_view", "action"})


def _normalised(test: str) -> str:
    return re.sub(r"\s+", "", test)


def _lock_calls(node: libcst.CSTNode) -> list[libcst.Call]:
    """The ``select_for_update()`` calls under ``node``, nested functions included."""
    found: list[libcst.Call] = []
    for child in node.children:
        if isinstance(child, cst.Call) and isinstance(child.func, cst.Attribute) and child.func.attr.value == "select_for_update":
            found.append(child)
        found += _lock_calls(child)
    return found


def _atomic_guards(tree: ast.Module) -> frozenset[str]:
    return frozenset(
        _normalised(ast.unparse(node.test))
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and any(opens_atomic_block(inner) for statement in node.body for inner in ast.walk(statement))
    )


def _call_graph(source: str, atomic_requests: bool = False) -> CallGraph:
    """Which functions of this module run in a transaction, and which are known
    to run outside one.

    Covered: decorated with ``atomic``, checking ``in_atomic_block``, or every
    call of them in this module (``helper()`` / ``self.helper()``) is covered.
    Exposed: entry points (a view's ``request`` parameter, a handler method of a
    class-based view, a management command's ``handle``, a task or signal
    receiver), or called outside a block from module level or from exposed
    code. A function that is neither is called from elsewhere, in a context
    this file does not show: the rules stay silent there. Under
    ``ATOMIC_REQUESTS`` views are covered (unless ``non_atomic_requests``).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return CallGraph()
    functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.setdefault(node.name, []).append(node)
    sites: dict[str, list[tuple[str | None, bool]]] = {name: [] for name in functions}
    covered = {
        name for name, defs in functions.items() if all("atomic" in decorator_names(d) or _asserts_atomic(d) for d in defs)
    }
    entries, views = _entry_points(tree)
    if atomic_requests:
        covered |= {
            name for name in views
            if "non_atomic_requests" not in decorator_names(functions[name][0])
        }  # fmt: skip
    exposed = entries - covered
    _collect_sites(tree, None, False, sites)
    changed = True
    while changed:
        changed = False
        for name, calls in sites.items():
            if name not in covered and calls and all(
                in_block or (caller is not None and caller in covered) for caller, in_block in calls
            ):
                covered.add(name)
                exposed.discard(name)
                changed = True
            if name not in covered and name not in exposed and any(
                not in_block and (caller is None or caller in exposed) for caller, in_block in calls
            ):
                exposed.add(name)
                changed = True
    return CallGraph(frozenset(covered), frozenset(exposed), _atomic_guards(tree))


def _entry_points(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(entry points, the views among them) by name."""
    found: set[str] = set()
    views: set[str] = set()
    #: Methods of class-based views: their handlers are the entry points, the
    #: other methods (``wrapped_dispatch(self, request)``) are helpers they call.
    view_methods: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [last_name(base) for base in node.bases]
            view = any(base.endswith(VIEW_BASE_SUFFIXES) for base in bases)
            command = node.name == "Command" or any(base.endswith("BaseCommand") for base in bases)
            for item in node.body:
                if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if view:
                    view_methods.add(id(item))
                if view and (item.name in HANDLERS or item.name.startswith("perform_") or "action" in decorator_names(item)):
                    found.add(item.name)
                    views.add(item.name)
                elif command and item.name == "handle":
                    found.add(item.name)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = [arg.arg for arg in (*node.args.posonlyargs, *node.args.args)]
            if id(node) not in view_methods and (params[:1] == ["request"] or params[1:2] == ["request"]):
                found.add(node.name)
                views.add(node.name)
            if decorator_names(node) & ENTRY_DECORATORS:
                found.add(node.name)
    return found, views


def _collect_sites(
    node: ast.AST, function: str | None, in_block: bool, sites: dict[str, list[tuple[str | None, bool]]]
) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # A nested function does not inherit the block; a function under
            # ``@atomic`` makes every call in its body a call in a block (even
            # when another function of the same name, in another class, is not).
            covered = "atomic" in decorator_names(child) or _asserts_atomic(child)
            _collect_sites(child, child.name, covered, sites)
            continue
        block = in_block
        if opens_atomic_block(child):
            block = True
        if isinstance(child, ast.Call):
            func = child.func
            name = None
            if isinstance(func, ast.Name):
                name = func.id
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
                name = func.attr
            if name in sites:
                sites[name].append((function, block))
        _collect_sites(child, function, block, sites)


def _asserts_atomic(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``assert connection.in_atomic_block`` (or an ``if not ...: raise``)."""
    return any(
        isinstance(node, ast.Attribute) and node.attr == "in_atomic_block" for node in ast.walk(function)
    )
