"""Django REST framework permission classes and drf-access-policy statements,
shared by the DJS9xx rules.

Which class is a permission, a policy or a view is decided on the project
index's facts (bases resolved across files, never imported); statements are
read from the libcst tree of the file being linted, where reports are placed.
Behaviour described here is drf-access-policy 1.5's (``AccessPolicy``,
``_normalize_statements``, ``_get_statements_matching_*``, ``_check_condition``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.orm import qualified_name
from flake8_django_safety.classes import ModuleClassRule, body_statements, file_defines
from flake8_django_safety.rule import FileContext

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ClassRef, ProjectIndex
    from flake8_django_safety.project.facts import ClassFacts
    from flake8_django_safety.settings import Settings

ACCESS_POLICY = frozenset({"rest_access_policy.AccessPolicy", "rest_access_policy.access_policy.AccessPolicy"})
STATEMENT_CLASSES = frozenset(
    {"rest_access_policy.Statement", "rest_access_policy.access_policy.Statement",
     "rest_access_policy.statements.Statement"}
)  # fmt: skip
BASE_PERMISSION = frozenset({"rest_framework.permissions.BasePermission"})
PLAIN_BASES = frozenset({"object", "builtins.object"})
#: The keys ``Statement`` accepts, in its positional order.
STATEMENT_KEYS = ("principal", "action", "effect", "condition", "condition_expression")
#: What ``hasattr(policy, name)`` finds on ``AccessPolicy`` itself.
POLICY_ATTRIBUTES = frozenset(
    {"statements", "field_permissions", "id", "group_prefix", "id_prefix", "has_permission",
     "has_object_permission", "get_policy_statements", "get_user_group_values", "scope_queryset",
     "scope_fields", "message", "code"}
)  # fmt: skip
#: Overriding one of these changes how statements are read or matched: the rules stay out.
_EVALUATION = frozenset(
    {"_evaluate_statements", "_normalize_statements", "_get_statements_matching_principal",
     "_get_statements_matching_action", "_get_statements_matching_conditions", "_check_condition",
     "_get_condition_method", "__getattr__", "__getattribute__"}
)  # fmt: skip


def project_ancestry(project: ProjectIndex, qualname: str) -> tuple[ClassRef, list[ClassRef], list[str]] | None:
    """(class, its project classes, the other bases by qualified name), or None
    when the class is not a project class or a project base cannot be read."""
    ref = project.resolve_class(qualname)
    if ref is None or not ref.facts.bases:
        return None
    classes: list[ClassRef] = []
    names: list[str] = []
    for item in project.ancestry(ref):
        if isinstance(item, str):
            if project.is_project_name(item):
                return None
            names.append(item)
        else:
            classes.append(item)
    return ref, classes, names


def defines(classes: list[ClassRef], name: str) -> bool:
    """A method or class attribute ``name`` on one of ``classes``."""
    return any(name in item.facts.methods or name in item.facts.attributes for item in classes)


# -- permission classes and views --------------------------------------------------


def object_only_permission(project: ProjectIndex, qualname: str) -> bool:
    """A ``BasePermission`` subclass that defines ``has_object_permission`` and
    inherits ``has_permission`` from ``BasePermission`` (which allows everything)."""
    found = project_ancestry(project, qualname)
    if found is None:
        return False
    ref, classes, names = found
    if not set(names) & BASE_PERMISSION or set(names) - BASE_PERMISSION - PLAIN_BASES:
        return False  # another library base (IsAuthenticated, AccessPolicy...) has its own has_permission
    return "has_object_permission" in ref.facts.methods and not defines(classes, "has_permission")


def drf_view_base(name: str) -> bool:
    return name == "rest_framework.views.APIView" or name.startswith(
        ("rest_framework.generics.", "rest_framework.viewsets.", "rest_framework.mixins.")
    )


def default_allows_any(project: ProjectIndex) -> bool:
    """Every settings module leaves ``DEFAULT_PERMISSION_CLASSES`` at DRF's
    default (``AllowAny``) or sets it to ``AllowAny`` / nothing. False when no
    settings module is found or one computes the value."""
    values = project.setting("DEFAULT_PERMISSION_CLASSES")
    if not values:
        return False
    return all(
        isinstance(value, tuple) and all(name.rpartition(".")[2] == "AllowAny" for name in value)
        for value in values
    )


# -- access policies ---------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """An ``AccessPolicy`` subclass of the project, with its project bases."""

    ref: ClassRef
    classes: list[ClassRef]
    #: ``id_prefix`` / ``group_prefix`` as the class sets or inherits them; None when computed.
    id_prefix: str | None
    group_prefix: str | None

    def has_attribute(self, name: str) -> bool:
        """``hasattr(policy, name)``: what a condition can name."""
        return name in POLICY_ATTRIBUTES or defines(self.classes, name)


def policy_of(project: ProjectIndex, qualname: str) -> Policy | None:
    """The access policy ``qualname`` names; None when it is not one, when a base
    is another library's, or when it overrides how statements are evaluated."""
    found = project_ancestry(project, qualname)
    if found is None:
        return None
    ref, classes, names = found
    if not set(names) & ACCESS_POLICY or set(names) - ACCESS_POLICY - PLAIN_BASES:
        return None
    if any(item.facts.methods & _EVALUATION for item in classes):
        return None
    return Policy(ref, classes, _prefix(classes, "id_prefix", "id:"), _prefix(classes, "group_prefix", "group:"))


def _prefix(classes: list[ClassRef], name: str, default: str) -> str | None:
    for item in classes:  # nearest first
        if name in item.facts.attributes:
            value = item.facts.attributes[name]
            return value if type(value) is str else None  # a ``_Name`` is computed
        if name in item.facts.methods:
            return None
    return default


@dataclass
class Entry:
    """One key of a statement: the node that names it and its value."""

    key: str
    key_node: libcst.CSTNode
    value: libcst.BaseExpression


@dataclass
class Statement:
    """A statement dict literal or a ``Statement(...)`` call."""

    node: libcst.CSTNode
    is_call: bool
    entries: dict[str, Entry] = field(default_factory=dict)
    unknown: list[Entry] = field(default_factory=list)
    #: ``**spread``, ``*args`` or a computed key: keys may come from elsewhere.
    open: bool = False

    def strings(self, key: str) -> list[tuple[str, libcst.SimpleString]]:
        """The literal strings of a key's value (a string, or a list/tuple of them)."""
        entry = self.entries.get(key)
        if entry is None:
            return []
        values = [entry.value]
        if isinstance(entry.value, (cst.List, cst.Tuple)):
            values = [element.value for element in entry.value.elements if isinstance(element, cst.Element)]
        found = []
        for value in values:
            if isinstance(value, cst.SimpleString):
                text = value.evaluated_value
                if isinstance(text, str):
                    found.append((text, value))
        return found

    def is_empty(self, key: str) -> bool:
        """The key is absent, or an empty literal (``[]``, ``""``)."""
        entry = self.entries.get(key)
        if entry is None:
            return True
        value = entry.value
        if isinstance(value, (cst.List, cst.Tuple)):
            return not value.elements
        return isinstance(value, cst.SimpleString) and value.evaluated_value == ""


def statements_of(
    context: FileContext, node: libcst.ClassDef, unread: list[libcst.CSTNode] | None = None
) -> list[Statement]:
    """The literal statements of a policy class: ``statements = [...]`` and the
    list literals ``get_policy_statements()`` returns. What else they hold (a
    name, ``*spread``, a computed item) goes to ``unread``."""
    found: list[Statement] = []
    unread = [] if unread is None else unread
    for item in node.body.body:
        if isinstance(item, cst.SimpleStatementLine):
            for small in item.body:
                value = None
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    value = small.value if isinstance(target, cst.Name) and target.value == "statements" else None
                elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    value = small.value if small.target.value == "statements" else None
                if value is not None:
                    found += _from_sequence(context, value, unread)
        elif isinstance(item, cst.FunctionDef) and item.name.value == "get_policy_statements":
            for returned in body_statements(item.body):
                if isinstance(returned, cst.Return) and returned.value is not None:
                    found += _from_sequence(context, returned.value, unread)
    return found


def _from_sequence(context: FileContext, value: libcst.BaseExpression, unread: list[libcst.CSTNode]) -> list[Statement]:
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add):
        return _from_sequence(context, value.left, unread) + _from_sequence(context, value.right, unread)
    if not isinstance(value, (cst.List, cst.Tuple)):
        unread.append(value)
        return []
    found = []
    for element in value.elements:
        if not isinstance(element, cst.Element):
            unread.append(element)
        elif isinstance(element.value, cst.Dict):
            found.append(_dict_statement(element.value))
        elif isinstance(element.value, cst.Call) and qualified_name(context, element.value.func) in STATEMENT_CLASSES:
            found.append(_call_statement(element.value))
        else:
            unread.append(element)
    return found


def _dict_statement(node: libcst.Dict) -> Statement:
    statement = Statement(node, is_call=False)
    for element in node.elements:
        if not isinstance(element, cst.DictElement) or not isinstance(element.key, cst.SimpleString):
            statement.open = True
            continue
        key = element.key.evaluated_value
        if not isinstance(key, str):
            statement.open = True
            continue
        _add(statement, Entry(key, element.key, element.value))
    return statement


def _call_statement(node: libcst.Call) -> Statement:
    statement = Statement(node, is_call=True)
    for position, arg in enumerate(node.args):
        if arg.star:
            statement.open = True
        elif arg.keyword is not None:
            _add(statement, Entry(arg.keyword.value, arg.keyword, arg.value))
        elif position < len(STATEMENT_KEYS):
            _add(statement, Entry(STATEMENT_KEYS[position], arg.value, arg.value))
        else:
            statement.open = True
    return statement


def _add(statement: Statement, entry: Entry) -> None:
    if entry.key in STATEMENT_KEYS:
        statement.entries[entry.key] = entry  # in a dict literal the last one wins
    else:
        statement.unknown.append(entry)


#: What ``condition_expression`` is made of (pyparsing: ``Word(alphanums + '_:.*')``,
#: ``not`` / ``and`` / ``or``, parentheses).
_EXPRESSION = re.compile(r"[\w:.*()\s]*")
_OPERAND = re.compile(r"[\w:.*]+")
_KEYWORDS = frozenset({"and", "or", "not", "True", "False"})


def condition_methods(statement: Statement) -> list[tuple[str, libcst.SimpleString]]:
    """(method name, the string naming it) for every condition and every operand
    of a condition expression; an expression of other characters is skipped."""
    found = [(text.split(":", 1)[0].strip(), node) for text, node in statement.strings("condition")]
    for text, node in statement.strings("condition_expression"):
        if _EXPRESSION.fullmatch(text):
            found += [
                (operand.split(":", 1)[0], node)
                for operand in _OPERAND.findall(text)
                if operand not in _KEYWORDS
            ]
    return [(name, node) for name, node in found if name]


class AccessPolicyRule(ModuleClassRule, register=False):
    """Visits the literal statements of every module-level access policy class."""

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        # Policy classes and their bases are named ``...Policy`` in practice: 66 files of
        # the 34-project corpus say "statements", none of them with "Polic".
        if "statements" not in text.text or "Polic" not in text.text:
            return False
        if "access_policies" not in text.memo:
            text.memo["access_policies"] = file_defines(text, settings, _is_policy)
        return bool(text.memo["access_policies"])

    def visit_module_class(self, node: libcst.ClassDef, project: ProjectIndex, qualname: str) -> None:
        policy = policy_of(project, qualname)
        if policy is not None:
            unread: list[libcst.CSTNode] = []
            statements = statements_of(self.context, node, unread)
            self.check_policy(policy, statements, complete=not unread)

    def check_policy(self, policy: Policy, statements: list[Statement], *, complete: bool) -> None:
        """Report what is wrong with the literal statements of ``policy`` (``complete``:
        they are all the class sets)."""
        for statement in statements:
            self.check(policy, statement)

    def check(self, policy: Policy, statement: Statement) -> None:
        """Report what is wrong with one statement of ``policy``."""


def _is_policy(project: ProjectIndex, item: ClassFacts) -> bool:
    return ("statements" in item.attributes or "get_policy_statements" in item.methods) and policy_of(
        project, item.qualname
    ) is not None
