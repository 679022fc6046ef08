"""Small libcst helpers the rules share: walking a subtree, and building code for fixes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst

if TYPE_CHECKING:
    import libcst


def descendants(node: libcst.CSTNode, *, skip: libcst.CSTNode | None = None) -> Iterator[libcst.CSTNode]:
    """``node`` and every node below it (not below ``skip``), without recursion."""
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(child for child in item.children if child is not skip)


def has_comment(node: libcst.CSTNode, *, keep: libcst.CSTNode | None = None) -> bool:
    """A comment in ``node`` (outside ``keep``), which replacing ``node`` would drop."""
    return any(isinstance(item, cst.Comment) for item in descendants(node, skip=keep))


def string_literal(text: str) -> libcst.SimpleString:
    """``"text"``, double-quoted as the fixes write strings."""
    return cst.SimpleString('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')


def comma_separated(args: list[libcst.Arg]) -> list[libcst.Arg]:
    """``args`` joined by ``", "``, the last without a trailing comma."""
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    return [arg.with_changes(comma=comma if index < len(args) - 1 else cst.MaybeSentinel.DEFAULT) for index, arg in enumerate(args)]
