"""SQL text in Python source: which strings are SQL, and what they say.

A string is SQL text when it is passed to a call that runs SQL (``execute``,
``executemany``, ``RunSQL``, ``.raw()``, ``RawSQL``, ``.extra()``), when it is
bound to a name passed to such a call in the same scope, or when it is a
module or class constant whose name says SQL or QUERY. Prose (docstrings, help
texts, log messages) is never passed to such calls, so it never counts.

:func:`read` turns an expression into :class:`Text`: its literal pieces (the
nodes a fix may edit) and holes for what is computed at run time. Strings
assembled conditionally (an ``if`` expression inside) are not read.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from flake8_django_safety._lazy import cst

#: Calls whose arguments are SQL, by the last name of the callee.
SQL_CALLS = frozenset({"execute", "executemany", "RunSQL", "raw", "RawSQL", "extra"})
#: Calls that keep their string argument's text: psycopg's ``sql.SQL(...)``, ``dedent(...)``.
_TEXT_WRAPPERS = frozenset({"SQL", "dedent"})
#: Methods that keep their receiver's text (placeholders stay in the text).
_TEXT_METHODS = frozenset({"format", "strip", "lstrip", "rstrip", "encode", "decode"})
#: Stands for a value computed at run time inside the joined text.
HOLE = "\0"

@dataclass(frozen=True)
class Piece:
    """One part of a string expression: literal text, or a hole (``node`` is what fills it)."""

    text: str
    #: A ``SimpleString`` or ``FormattedStringText`` (literal text), or the expression of a hole.
    node: cst.CSTNode
    start: int
    #: The literal is part of a raw f-string (its backslashes are text).
    raw: bool = False

    @property
    def is_hole(self) -> bool:
        return self.text == HOLE


@dataclass(frozen=True)
class Text:
    """The readable text of a string expression, with holes for computed parts."""

    pieces: tuple[Piece, ...]

    @property
    def joined(self) -> str:
        return "".join(piece.text for piece in self.pieces)

    def piece_at(self, offset: int) -> Piece:
        """The piece holding the character at ``offset`` of :attr:`joined`."""
        for piece in reversed(self.pieces):
            if piece.start <= offset:
                return piece
        return self.pieces[0]


def is_sql_call(call: cst.Call) -> bool:
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
    return name in SQL_CALLS


def sql_arguments(call: cst.Call) -> Iterator[cst.BaseExpression]:
    """The expressions a SQL call receives, looking into lists, tuples and dicts
    (``RunSQL([(sql, params)])``, ``extra(select={"x": sql}, where=[sql])``)."""
    stack: list[cst.BaseExpression] = [arg.value for arg in reversed(call.args)]
    while stack:
        value = stack.pop()
        if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
            stack.extend(element.value for element in reversed(value.elements))
        elif isinstance(value, cst.Dict):
            stack.extend(
                element.value for element in reversed(value.elements) if isinstance(element, cst.DictElement)
            )
        else:
            yield value


def is_constant_name(name: str) -> bool:
    """A module or class constant named as SQL: ``REFRESH_SQL``, ``report_query``."""
    upper = name.upper()
    return "SQL" in upper or "QUERY" in upper


def read(expression: cst.BaseExpression) -> Text | None:
    """The text of a string expression; None when it is no string or is assembled conditionally."""
    pieces: list[Piece] = []
    if not _read(expression, pieces, top=True) or all(piece.is_hole for piece in pieces):
        return None
    start = 0
    placed = []
    for piece in pieces:
        placed.append(Piece(piece.text, piece.node, start, piece.raw))
        start += len(piece.text)
    return Text(tuple(placed))


def _read(node: cst.BaseExpression, pieces: list[Piece], *, top: bool = False) -> bool:
    """Append ``node``'s pieces; False when the text depends on a condition (or is not text)."""
    if isinstance(node, cst.IfExp):
        return False
    if isinstance(node, cst.SimpleString):
        pieces.append(Piece(literal_text(node), node, 0))
        return True
    if isinstance(node, cst.ConcatenatedString):
        return _read(node.left, pieces) and _read(node.right, pieces)
    if isinstance(node, cst.FormattedString):
        raw = "r" in node.prefix.lower()
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                pieces.append(Piece(literal_text(part, raw=raw), part, 0, raw))
            elif _conditional(part.expression):
                return False
            else:
                pieces.append(Piece(HOLE, part.expression, 0))
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _read(node.left, pieces) and _read(node.right, pieces)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo) and _is_text(node.left):
        return not _conditional(node.right) and _read(node.left, pieces)
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TEXT_METHODS and _is_text(func.value):
            return not any(_conditional(arg.value) for arg in node.args) and _read(func.value, pieces)
        name = cst.helpers.get_full_name_for_node(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if name is not None and name.rpartition(".")[2] in _TEXT_WRAPPERS and len(node.args) == 1:
            return _read(node.args[0].value, pieces, top=top)
    if top:
        return False
    if _conditional(node):
        return False
    pieces.append(Piece(HOLE, node, 0))
    return True


def _is_text(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)) or (
        isinstance(node, cst.Call) and _read(node, [], top=True)
    )


def _conditional(node: cst.CSTNode) -> bool:
    """Whether an ``if`` expression sits anywhere in ``node``."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.IfExp):
            return True
        stack.extend(current.children)
    return False


def literal_body(node: cst.SimpleString) -> tuple[str, str, str]:
    """``(prefix and opening quote, body, closing quote)`` of a string literal as written."""
    quote = node.quote
    opening = len(node.prefix) + len(quote)
    return node.value[:opening], node.value[opening : len(node.value) - len(quote)], quote


def literal_text(node: cst.SimpleString | cst.FormattedStringText, *, raw: bool = False) -> str:
    """The text of a literal as the program sees it (``raw``: the f-string part is raw)."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        text = value.decode("latin-1") if isinstance(value, bytes) else value
    else:
        text = decode(node.value, raw=raw, fstring=True)[0]
    return text.replace(HOLE, " ")


_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "b": "\b"}
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|[0-7]{1,3}|.)", re.DOTALL)


def decode(body: str, *, raw: bool, fstring: bool) -> tuple[str, list[int]]:
    """The text a literal's body (as written between its quotes) stands for, and for
    each character of that text the offset in ``body`` where it is written."""
    text: list[str] = []
    starts: list[int] = []
    index = 0
    while index < len(body):
        char = body[index]
        if fstring and char in "{}" and body.startswith(char * 2, index):
            text.append(char)
            starts.append(index)
            index += 2
            continue
        escape = _ESCAPE.match(body, index) if char == "\\" and not raw else None
        if escape is None:
            text.append(char)
            starts.append(index)
            index += 1
            continue
        sequence = escape.group(0)
        if sequence[1] == "\n":
            decoded = ""  # a line continuation
        elif sequence[1] in "\\'\"":
            decoded = sequence[1]
        elif sequence[1] in _SIMPLE_ESCAPES:
            decoded = _SIMPLE_ESCAPES[sequence[1]]
        elif sequence[1] in "xuUN01234567":
            try:
                decoded = codecs.decode(sequence, "unicode_escape")
            except UnicodeError:
                decoded = sequence
        else:
            decoded = sequence  # an unknown escape keeps its backslash
        for offset, decoded_char in enumerate(decoded):
            text.append(decoded_char)
            starts.append(index + min(offset, len(sequence) - 1))
        index = escape.end()
    return "".join(text), starts
