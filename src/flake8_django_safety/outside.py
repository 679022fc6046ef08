"""Values that come from outside the code (DJS201, DJS202).

A model hook can reject only what the code was given: a literal, a setting, a
field of another row or an attribute of an object the caller passed in is
valid by construction or valid as stored. What counts as *outside* is request
data (``request.POST``, ``request.data``...), a form's ``cleaned_data``, a
serializer's ``validated_data`` / ``initial_data``, what a file holds
(``handle.read()``, ``json.load()``), and the parameters of a
public function (not one whose name starts with ``_``: a private helper is
called by its own class or module, with its values). Through locals, subscripts,
calls, operators and containers; not through a queryset (rows it returns are
stored values), nor through ``super().save(...)`` (a ModelForm returns the
instance it validated), nor through an attribute read of a parameter
(``obj.name`` reads an object the caller holds), nor through ``.hexdigest()``
(a digest is hex whatever went in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst

from flake8_django_safety.orm import is_model_serializer_base, resolve_class

if TYPE_CHECKING:
    from flake8_django_safety.project import ClassRef, ProjectIndex
    from flake8_django_safety.rule import FileContext

#: Attributes of ``request`` that hold what the client sent.
REQUEST_DATA = frozenset(
    {"POST", "GET", "data", "FILES", "body", "query_params", "COOKIES", "META", "headers", "content_params"}
)
#: Attributes that hold user input validated only by a form's or a serializer's own fields.
INPUT_ATTRIBUTES = frozenset({"cleaned_data", "validated_data", "initial_data"})
#: Calls whose result has a fixed shape whatever their input.
SHAPED_CALLS = frozenset({"hexdigest", "digest", "uuid4", "token_hex", "token_urlsafe", "isoformat"})
_NOT_INPUT = frozenset({"self", "cls"})


class OutsideValues:
    """The locals of one function that hold outside values (flow-insensitive:
    a local is outside when any assignment to it is)."""

    def __init__(
        self,
        function: cst.FunctionDef | None,
        *,
        parameters_count: bool,
        is_model_form: Callable[[cst.BaseExpression], bool] | None = None,
    ) -> None:
        self.names: set[str] = set()
        #: Locals bound to a ModelForm (``form = OrderForm(request.POST)``): its
        #: ``cleaned_data`` went through the model's ``full_clean()``.
        self.model_forms: set[str] = set()
        #: Parameters among ``names``: their attributes are objects the caller holds.
        self.parameters: set[str] = set()
        if function is None:
            return
        params = function.params
        if parameters_count:
            for param in (*params.posonly_params, *params.params, *params.kwonly_params):
                if param.name.value not in _NOT_INPUT and param.name.value != "request":
                    self.names.add(param.name.value)
            for star in (params.star_arg, params.star_kwarg):
                if isinstance(star, cst.Param):
                    self.names.add(star.name.value)
            self.parameters = set(self.names)
        assignments = list(_assignments(function.body))
        if is_model_form is not None:
            for targets, value in assignments:
                if len(targets) == 1 and isinstance(value, cst.Call) and is_model_form(value.func):
                    self.model_forms.add(targets[0])
        changed = True
        while changed:
            changed = False
            for targets, value in assignments:
                if self.is_outside(value):
                    for name in targets:
                        if name not in self.names:
                            self.names.add(name)
                            changed = True

    def is_outside(self, node: cst.BaseExpression | None) -> bool:
        if node is None:
            return False
        if isinstance(node, cst.Name):
            return node.value in self.names
        if isinstance(node, cst.Attribute):
            if node.attr.value in INPUT_ATTRIBUTES:
                return not (
                    node.attr.value == "cleaned_data"
                    and isinstance(node.value, cst.Name)
                    and node.value.value in self.model_forms
                )
            if node.attr.value in REQUEST_DATA and _is_request(node.value):
                return True
            # ``obj.name`` on a parameter: an attribute of an object the caller
            # holds (a row, a parsed file); on a local with input (``value.pk``
            # of a chosen row), input too.
            if isinstance(node.value, cst.Name):
                return node.value.value in self.names and node.value.value not in self.parameters
            return isinstance(node.value, (cst.Subscript, cst.Call, cst.Attribute)) and self.is_outside(node.value)
        if isinstance(node, cst.Subscript):
            return self.is_outside(node.value)
        if isinstance(node, cst.Call):
            func = node.func
            if _reads_file(func):
                return True
            if isinstance(func, cst.Attribute):
                if func.attr.value in SHAPED_CALLS or _is_queryset(func.value):
                    return False
                if func.attr.value == "save" and _is_super(func.value):
                    return False  # a ModelForm's validated instance, a stored row
                if self.is_outside(func.value):
                    return True
            elif isinstance(func, cst.Name) and func.value in SHAPED_CALLS:
                return False
            return any(self.is_outside(arg.value) for arg in node.args)
        if isinstance(node, cst.Await):
            return self.is_outside(node.expression)
        if isinstance(node, (cst.BinaryOperation, cst.BooleanOperation, cst.Comparison)):
            return any(self.is_outside(child) for child in _expressions(node))
        if isinstance(node, cst.IfExp):  # the test only picks one of the values
            return self.is_outside(node.body) or self.is_outside(node.orelse)
        if isinstance(node, (cst.UnaryOperation, cst.FormattedString, cst.ConcatenatedString)):
            return any(self.is_outside(child) for child in _expressions(node))
        if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
            return any(self.is_outside(element.value) for element in node.elements)
        if isinstance(node, cst.Dict):
            return any(
                self.is_outside(element.value)
                or (isinstance(element, cst.DictElement) and self.is_outside(element.key))
                for element in node.elements
            )
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return any(self.is_outside(child) for child in _expressions(node))
        return False

    def fields(self, call: cst.Call) -> frozenset[str] | None:
        """The fields ``Model(...)`` / ``create(...)`` sets to outside values; None: any."""
        found: set[str] = set()
        for arg in call.args:
            if arg.keyword is None:
                if arg.star == "**":
                    if self.is_outside(arg.value):
                        return None
                elif self.is_outside(arg.value):
                    return None
                continue
            name = arg.keyword.value
            if name in ("defaults", "create_defaults"):
                if isinstance(arg.value, cst.Dict):
                    for element in arg.value.elements:
                        if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                            if self.is_outside(element.value):
                                found.add(element.key.raw_value)
                        elif self.is_outside(element.value) or (
                            isinstance(element, cst.DictElement) and self.is_outside(element.key)
                        ):
                            return None
                elif self.is_outside(arg.value):
                    return None
            elif self.is_outside(arg.value):
                found.add(name.split("__", 1)[0])
        return frozenset(found)


#: ``handle.read()``, ``path.read_text()``: what a file holds.
FILE_READS = frozenset({"read", "readlines", "read_text", "read_bytes"})
#: ``json.load(handle)``, ``yaml.safe_load(handle)``.
_LOADERS = frozenset({"json", "yaml", "tomllib", "toml"})


def _reads_file(func: cst.BaseExpression) -> bool:
    if not isinstance(func, cst.Attribute):
        return False
    if func.attr.value in FILE_READS:
        return True
    return (
        func.attr.value in ("load", "safe_load", "full_load")
        and isinstance(func.value, cst.Name)
        and func.value.value in _LOADERS
    )


def _is_super(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "super"


def _is_request(node: cst.BaseExpression) -> bool:
    """``request`` or ``self.request``."""
    if isinstance(node, cst.Name):
        return node.value == "request"
    return isinstance(node, cst.Attribute) and node.attr.value == "request"


def _is_queryset(node: cst.BaseExpression) -> bool:
    """A chain through a manager (``Model.objects...``, ``obj.items.all()``): rows."""
    while True:
        if isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, cst.Attribute):
            if node.attr.value in ("objects", "all", "filter", "exclude", "get", "first", "last"):
                return True
            node = node.value
        else:
            return False


def _expressions(node: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    """The direct sub-expressions of ``node`` (through comprehension clauses)."""
    for child in node.children:
        if isinstance(child, cst.BaseExpression):
            yield child
        elif isinstance(child, (cst.FormattedStringExpression, cst.CompFor, cst.CompIf, cst.Arg)):
            yield from _expressions(child)


def _names(target: cst.BaseExpression) -> Iterator[str]:
    """Local names an assignment target binds (``x``, ``a, b``, ``x[k]``: ``x``)."""
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names(element.value)
    elif isinstance(target, cst.Subscript):
        yield from _names(target.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names(target.value)


def _assignments(body: cst.CSTNode) -> Iterable[tuple[list[str], cst.BaseExpression]]:
    """(names bound, value) for each assignment, ``for`` and ``with ... as`` in a
    function body, not inside nested functions or classes."""
    stack: list[cst.CSTNode] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Assign):
            for target in node.targets:
                yield list(_names(target.target)), node.value
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and node.value is not None:
            yield list(_names(node.target)), node.value
        elif isinstance(node, cst.For):
            yield list(_names(node.target)), node.iter
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            yield list(_names(node.asname.name)), node.item
        elif isinstance(node, cst.NamedExpr):
            yield list(_names(node.target)), node.value
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            # ``data.update(request.POST)`` / ``items.append(value)``
            if node.func.attr.value in ("update", "append", "extend", "setdefault", "add"):
                yield list(_names(node.func.value)), node
        stack.extend(node.children)


def model_form_resolver(context: FileContext) -> Callable[[cst.BaseExpression], bool]:
    """Whether a class expression names a ``ModelForm`` (of the project, by its bases)."""

    def is_model_form(node: cst.BaseExpression) -> bool:
        project = context.project
        ref = resolve_class(context, node) if project is not None else None
        return ref is not None and any(
            isinstance(item, str) and item.rpartition(".")[2] == "ModelForm" and item.startswith("django.")
            for item in project.ancestry(ref)  # type: ignore[union-attr]
        )

    return is_model_form


def public_function(node: cst.FunctionDef) -> bool:
    """Its parameters count as outside: not a private helper (``_sample()``)."""
    name = node.name.value
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def calls_full_clean(project: ProjectIndex, ref: ClassRef, method: str, depth: int = 0) -> bool:
    """``instance.method()`` runs ``full_clean()`` (``validated_save()``)."""
    if method == "full_clean":
        return True
    facts = project.method(ref, method)
    if facts is None or depth > 3:
        return False
    return any(calls_full_clean(project, ref, name, depth + 1) for name in facts.self_calls if name != method)


def without_clean_in_save(project: ProjectIndex, ref: ClassRef, hooks: list[str]) -> list[str]:
    """A model whose own ``save()`` calls ``self.clean()`` enforces it on every save."""
    save = project.method(ref, "save")
    if save is None or "clean" not in save.self_calls:
        return hooks
    return [hook for hook in hooks if hook != "clean()"]


#: Calls that create a row and return it.
_CREATING = frozenset(
    {"create", "acreate", "get_or_create", "aget_or_create", "update_or_create", "aupdate_or_create"}
)


def validated_next(
    body: Sequence[cst.BaseStatement], validates: Callable[[cst.Call, str], bool]
) -> set[int]:
    """``create()`` calls of ``body`` whose row is validated right after: a later
    statement of the same block calls ``full_clean()`` (or a method of the model
    that does) on it, or does so under ``if created:`` of a ``get_or_create()``."""
    found: set[int] = set()
    for index, statement in enumerate(body):
        creation = _creation(statement)
        if creation is None:
            continue
        call, name, created = creation
        for later in body[index + 1 :]:
            blocks = [[later]]
            if (
                created is not None
                and isinstance(later, cst.If)
                and isinstance(later.test, cst.Name)
                and later.test.value == created
                and isinstance(later.body, cst.IndentedBlock)
            ):
                blocks.append(list(later.body.body))
            if any(_validates_name(line, name, call, validates) for block in blocks for line in block):
                found.add(id(call))
                break
    return found


def _creation(statement: cst.BaseStatement) -> tuple[cst.Call, str, str | None] | None:
    """``x = Model.objects.create(...)`` / ``x, created = ...get_or_create(...)``."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return None
    assign = statement.body[0]
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1):
        return None
    value = assign.value.expression if isinstance(assign.value, cst.Await) else assign.value
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
        return None
    if value.func.attr.value not in _CREATING:
        return None
    target = assign.targets[0].target
    if isinstance(target, cst.Name):
        return value, target.value, None
    if isinstance(target, cst.Tuple) and len(target.elements) == 2:
        first, second = (element.value for element in target.elements)
        if isinstance(first, cst.Name):
            return value, first.value, second.value if isinstance(second, cst.Name) else None
    return None


def _validates_name(
    line: cst.BaseStatement, name: str, call: cst.Call, validates: Callable[[cst.Call, str], bool]
) -> bool:
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1):
        return False
    expression = line.body[0]
    if not isinstance(expression, cst.Expr):
        return False
    value = expression.value.expression if isinstance(expression.value, cst.Await) else expression.value
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and isinstance(value.func.value, cst.Name)
        and value.func.value.value == name
        and validates(call, value.func.attr.value)
    )


def generic_model_serializer(context: FileContext, node: cst.ClassDef) -> bool:
    """``class S(serializers.ModelSerializer[Language])``: a ModelSerializer
    subscripted for type checkers (the index reads names, not subscripts)."""
    for base in node.bases:
        value = base.value
        if isinstance(value, cst.Subscript):
            qualified = context.imports.qualify(value.value) or ""
            if is_model_serializer_base(qualified):
                return True
    return False
