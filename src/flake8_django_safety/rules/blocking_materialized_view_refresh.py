from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.rule import FileContext, Fix, Rule, Safety
from flake8_django_safety.sqltext import (
    HOLE,
    Text,
    decode,
    is_constant_name,
    is_sql_call,
    literal_body,
    literal_text,
    read,
    sql_arguments,
)

if TYPE_CHECKING:
    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.settings import Settings

_REFRESH = re.compile(r"refresh\s+materialized\s+view(?!\w)", re.IGNORECASE)
_CONCURRENTLY = re.compile(r"\s*concurrently(?!\w)", re.IGNORECASE)
#: A computed part where the view name would be: a hole, a ``%s`` / ``%(name)s`` or ``{}`` placeholder.
_PLACEHOLDER = re.compile(r"\s*(?:\0|%s|%\(\w+\)s|\{[^{}]*\})")
_VIEW_NAME = re.compile(r"\s*([\w.\"]+)")
_CREATE = re.compile(r"create\s+materialized\s+view\s+(?:if\s+not\s+exists\s+)?([\w.\"]+)?", re.IGNORECASE)
_NO_DATA = re.compile(r"with\s+no\s+data", re.IGNORECASE)


@dataclass
class _Scope:
    """Names bound in one scope, and names passed to SQL calls there."""

    kind: str
    #: name -> each value bound to it (None: bound by something other than ``name = value``).
    bindings: dict[str, list[cst.BaseExpression | None]] = field(default_factory=dict)
    passed: list[str] = field(default_factory=list)

    def bind(self, name: str, value: cst.BaseExpression | None) -> None:
        self.bindings.setdefault(name, []).append(value)


class BlockingMaterializedViewRefresh(Rule):
    """
    ## What it does
    Flags SQL text that runs `REFRESH MATERIALIZED VIEW` without
    `CONCURRENTLY` (any case, any whitespace). SQL text is a string literal,
    f-string or concatenation passed to `execute()`, `executemany()`,
    `RunSQL()`, `.raw()`, `RawSQL()` or `.extra()`; a string bound to a name
    that is passed to one of them in the same scope; or a module or class
    constant whose name contains `SQL` or `QUERY`. Every file is checked,
    migrations included.

    ## Why is this bad?
    A plain refresh takes an `ACCESS EXCLUSIVE` lock on the view for as long
    as the query behind it runs: every `SELECT` from the view waits, so the
    pages that read it hang (and pile up connections) for the whole refresh,
    typically seconds to minutes, on every refresh. `REFRESH MATERIALIZED VIEW
    CONCURRENTLY` builds the new contents next to the old ones and swaps them
    in, so readers keep reading the old data meanwhile.

    ## Known problems
    Prose is never SQL text: docstrings, help texts, comments and log messages
    are not passed to those calls. A string assembled conditionally (an `if`
    expression, a name bound more than once) is left alone, and so is a
    refresh whose option may come from a placeholder (`REFRESH MATERIALIZED
    VIEW %s %s`, `f"... VIEW {concurrently} {name}"`). Not reported either: a
    refresh `WITH NO DATA` (PostgreSQL rejects `CONCURRENTLY` there), and a
    refresh of a view that the same SQL text creates (its first population
    cannot be concurrent). A statement that mixes case inside the word
    `MATERIALIZED` (`MATERIALized`) is not looked at: the text test that keeps
    other files free reads the word in lower, upper or title case.

    ## Example
    ```python
    from django.db import connection


    def refresh_sales_report():
        with connection.cursor() as cursor:
            cursor.execute("REFRESH MATERIALIZED VIEW sales_report")
    ```

    ## Use instead
    ```python
    from django.db import connection


    def refresh_sales_report():
        with connection.cursor() as cursor:
            cursor.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY sales_report")
    ```

    ## Fix safety
    The fix is unsafe: it inserts `CONCURRENTLY` after `VIEW` (in the case the
    statement is written in), editing only the literal text of the string,
    never an f-string's expressions. PostgreSQL accepts `CONCURRENTLY` only
    for a view that has a `UNIQUE` index on plain columns (covering all rows)
    and that has been populated; otherwise the refresh now fails. A
    concurrent refresh is also slower and cannot run inside a transaction
    block together with a non-concurrent refresh of the same view.

    ## References
    - [PostgreSQL: `REFRESH MATERIALIZED VIEW`](https://www.postgresql.org/docs/current/sql-refreshmaterializedview.html)
    - [Django: executing custom SQL directly](https://docs.djangoproject.com/en/stable/topics/db/sql/#executing-custom-sql-directly)
    - [Django: `RunSQL`](https://docs.djangoproject.com/en/stable/ref/migration-operations/#runsql)
    """

    code = "DJS801"
    name = "blocking-materialized-view-refresh"
    message = (
        "Blocking refresh: `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` locks the view against every "
        "read until it ends; refresh it `CONCURRENTLY` (needs a unique index on the view)"
    )
    fix_safety = Safety.UNSAFE

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        # Substring tests before lower-casing the file: ``materialized``, ``MATERIALIZED``
        # and ``Materialized`` all contain one of these.
        if "aterialized" not in text.text and "ATERIALIZED" not in text.text:
            return False
        return "refresh" in text.lower

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.scopes: list[_Scope] = []
        self.checked: set[int] = set()

    # -- scopes -----------------------------------------------------------------

    def visit_Module(self, node: cst.Module) -> None:
        self.scopes.append(_Scope("module"))

    def leave_Module(self, original_node: cst.Module) -> None:
        self._close(self.scopes.pop())

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes[-1].bind(node.name.value, None)
        self.scopes.append(_Scope("class"))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._close(self.scopes.pop())

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes[-1].bind(node.name.value, None)
        scope = _Scope("function")
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            scope.bind(param.name.value, None)
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                scope.bind(star.name.value, None)
        self.scopes.append(scope)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._close(self.scopes.pop())

    def _close(self, scope: _Scope) -> None:
        """Check what the scope's names hold; names it does not bind are the enclosing scope's."""
        if scope.kind != "function":
            for name, values in scope.bindings.items():
                if is_constant_name(name) and len(values) == 1 and values[0] is not None:
                    self._check(values[0])
        outer = next((s for s in reversed(self.scopes) if s.kind != "class"), None)
        for name in scope.passed:
            values = scope.bindings.get(name)
            if values is None:
                if outer is not None:
                    outer.passed.append(name)
            elif len(values) == 1 and values[0] is not None:
                self._check(values[0])

    # -- bindings ---------------------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.scopes[-1].bind(target.target.value, node.value)
            else:
                self._bind_unknown(target.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and isinstance(node.target, cst.Name):
            self.scopes[-1].bind(node.target.value, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind_unknown(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind_unknown(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind_unknown(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind_unknown(node.asname.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_unknown(node.target)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        bound = node.asname.name if node.asname is not None else node.name
        while isinstance(bound, cst.Attribute):
            bound = bound.value
        self._bind_unknown(bound)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self.scopes[-1].bind(item.name.value, None)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for item in node.names:
            self.scopes[-1].bind(item.name.value, None)

    def _bind_unknown(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.scopes[-1].bind(target.value, None)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind_unknown(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind_unknown(target.value)

    # -- SQL calls --------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        if not is_sql_call(node):
            return
        for value in sql_arguments(node):
            if isinstance(value, cst.Name):
                self.scopes[-1].passed.append(value.value)
            else:
                self._check(value)

    def _check(self, expression: cst.BaseExpression) -> None:
        if id(expression) in self.checked:
            return
        self.checked.add(id(expression))
        text = read(expression)
        if text is None:
            return
        for match in blocking_refreshes(text):
            # On the literal that says ``REFRESH`` (inside a wrapper or a concatenation).
            self.report(text.piece_at(match.start()).node, self.message, _fix(text, match))


def blocking_refreshes(text: Text) -> Iterator[re.Match[str]]:
    """The ``REFRESH MATERIALIZED VIEW`` matches of ``text`` that would block readers."""
    joined = text.joined
    created = {(name or "").lower() for name in _CREATE.findall(joined)}
    for match in _REFRESH.finditer(joined):
        rest = joined[match.end() :]
        if _CONCURRENTLY.match(rest) or _NO_DATA.search(rest.split(";", 1)[0]):
            continue
        placeholder = _PLACEHOLDER.match(rest)
        if placeholder is not None:
            if _may_hold_option(text, match.end() + placeholder.end() - 1) or _PLACEHOLDER.match(
                rest, placeholder.end()
            ):
                continue  # the option may be what fills the first placeholder
            if created:
                continue  # the name is computed; the same text creates a view
        else:
            name = _VIEW_NAME.match(rest)
            if name is None or name.group(1).lower() in created:
                continue  # no statement we can read, or the first population of a view
        yield match


def _may_hold_option(text: Text, offset: int) -> bool:
    """The hole at ``offset`` might be ``CONCURRENTLY`` (``{concurrently}``)."""
    piece = text.piece_at(offset)
    if not piece.is_hole:
        return False
    code = cst.Module([]).code_for_node(piece.node).lower()
    return "concurren" in code


def _fix(text: Text, match: re.Match[str]) -> Fix | None:
    """Insert ``CONCURRENTLY`` after ``VIEW`` in the literal that holds it."""
    end = match.end()
    piece = text.piece_at(end - 1)
    if piece.is_hole or piece.start > end - 4:
        return None  # ``VIEW`` is split between two literals
    word = match.group(0)[-4:]
    option = "concurrently" if word.islower() else "Concurrently" if word.istitle() else "CONCURRENTLY"
    node = piece.node
    if isinstance(node, cst.SimpleString):
        opening, body, closing = literal_body(node)
        decoded, starts = decode(body, raw="r" in node.prefix.lower(), fstring=False)
    else:
        opening, body, closing = "", node.value, ""
        decoded, starts = decode(body, raw=piece.raw, fstring=True)
    offset = end - piece.start
    if decoded.replace(HOLE, " ") != piece.text:
        return None  # an escape this module does not decode as Python does
    at = starts[offset - 1] + 1  # just after the ``W``, which is written as itself
    # The edit must insert exactly `` CONCURRENTLY`` where the match ends, nothing else.
    try:
        edited = node.with_changes(value=f"{opening}{body[:at]} {option}{body[at:]}{closing}")
        new_text = literal_text(edited, raw=piece.raw)
    except (cst.CSTValidationError, SyntaxError, ValueError):
        return None
    if new_text != f"{piece.text[:offset]} {option}{piece.text[offset:]}":
        return None
    return Fix(f"Refresh the view `{option}`", Safety.UNSAFE, node, edited)
