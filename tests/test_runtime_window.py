"""DJS601 and DJS602 claims on a real database (Django, in-memory SQLite).

DJS601: for every report in its fixture, the ``Window()`` annotation that the
report's message suggests is parsed out of the message and applied to the
loop's queryset, the join is replaced by the annotation the message says to
read, and the function is run both ways: the same numbers, in one query
instead of two. The filters the rule compares matter: over other rows the
window gives other numbers.

DJS602: every flagged function of its fixture runs on the Django installed
here (4.2 or later, which filters on window functions; the rule stays silent
for such targets). On Django 4.1 the same code raises
``NotSupportedError: Window is disallowed in the filter clause`` (checked by
hand with Django 4.1.13; see docs/precision.md).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("django")

import libcst as cst  # noqa: E402
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider  # noqa: E402

from flake8_django_safety.rule import Violation, registered_rules  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "runtime"))

from djangoenv import setup_django  # noqa: E402
from harness import engine_for, expectations, fixture_path  # noqa: E402

_SUGGESTION = re.compile(r"with `(?P<annotate>\.annotate\([^`]*\))` and read `(?P<read>[^`]+)`")
_LOOPS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)


def _findings(code: str) -> tuple[str, list[Violation]]:
    source = fixture_path(code).read_text()
    rule = registered_rules()[code]
    return source, engine_for(source, [rule]).lint_text(source, str(fixture_path(code)))


def _function_at(source: str, line: int) -> str:
    """The name of the module-level function holding ``line``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.lineno <= line <= (node.end_lineno or node.lineno):
            return node.name
    raise AssertionError(f"line {line} is in no function")


DJS601_SOURCE, DJS601_FINDINGS = _findings("DJS601")


@pytest.fixture(scope="module")
def forum() -> Iterator[None]:
    """Three posts with comments whose groups differ in every aggregate: a bot, an
    unapproved latest comment, a post whose scores are all negative, ties."""
    setup_django()
    from forum.models import Comment, Post

    assert not Comment.objects.exists(), "another test left comments behind"
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rows = [
        # post, author, score, hours after start, approved
        (0, "ann", 5, 1, True),
        (0, "bob", 2, 2, True),
        (0, "bot", 9, 3, True),
        (0, "ann", 7, 4, False),
        (1, "bob", -3, 1, True),
        (1, "cy", -1, 5, True),
        (2, "ann", 4, 2, True),
        (2, "cy", 4, 6, True),
        (2, "bot", 1, 7, False),
        (2, "bob", 8, 3, True),
    ]
    posts = [Post.objects.create(title=f"post {i}") for i in range(3)]
    for post, author, score, hours, approved in rows:
        Comment.objects.create(
            post=posts[post], author=author, score=score, created=start + timedelta(hours=hours), approved=approved
        )
    try:
        yield
    finally:
        Comment.objects.all().delete()
        Post.objects.all().delete()


def _window_form(source: str, violation: Violation) -> str:
    """``source`` with the message's suggestion applied where ``violation`` joins:
    the loop's queryset annotated, the join replaced by the annotation's read."""
    match = _SUGGESTION.search(violation.message)
    assert match, violation.message
    annotate, read = match["annotate"], match["read"]
    row = re.match(r"\w+", read)[0]  # type: ignore[index]
    wrapper = MetadataWrapper(cst.parse_module(source))
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    joins = [
        node
        for node, position in positions.items()
        if isinstance(node, (cst.Subscript, cst.Call))
        and (position.start.line, position.start.column) == (violation.line, violation.column)
    ]
    assert len(joins) == 1, joins
    join = joins[0]

    node: cst.CSTNode = join
    while True:
        node = parents[node]
        if isinstance(node, cst.For) and isinstance(node.target, cst.Name) and node.target.value == row:
            iterable = node.iter
            break
        if isinstance(node, _LOOPS) and isinstance(node.for_in.target, cst.Name) and node.for_in.target.value == row:
            iterable = node.for_in.iter
            break
    queryset = _queryset_behind(iterable, parents)
    if isinstance(queryset, cst.Subscript):  # a slice: annotate before it (the window sees every row)
        queryset = queryset.value
    module = wrapper.module
    annotated = cst.parse_expression(f"({module.code_for_node(queryset)}){annotate}")
    replacements: dict[cst.CSTNode, object] = {join: cst.parse_expression(read), queryset: annotated}
    # The dict is not needed any more: drop the statements that build it.
    name = (join.value if isinstance(join, cst.Subscript) else join.func.value).value  # type: ignore[attr-defined]
    for statement in _function_of(join, parents).body.body:
        if _mentions(statement, name) and not _mentions(statement, join):
            replacements[statement] = cst.RemoveFromParent()

    class Apply(cst.CSTTransformer):
        def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
            return replacements.get(original_node, updated_node)

    return module.visit(Apply()).code


def _function_of(node: cst.CSTNode, parents: dict) -> cst.FunctionDef:  # type: ignore[type-arg]
    while not isinstance(node, cst.FunctionDef):
        node = parents[node]
    return node


def _mentions(tree: cst.CSTNode, wanted: str | cst.CSTNode) -> bool:
    """``tree`` holds the node ``wanted``, or a name spelt ``wanted``."""
    if tree is wanted or (isinstance(tree, cst.Name) and tree.value == wanted):
        return True
    return any(_mentions(child, wanted) for child in tree.children)


def _queryset_behind(iterable: cst.BaseExpression, parents: dict) -> cst.BaseExpression:  # type: ignore[type-arg]
    """The loop's queryset: the iterable, or what its local was bound to (inside ``list()``)."""
    if not isinstance(iterable, cst.Name):
        return iterable
    bound = [
        statement.body[0].value
        for statement in _function_of(iterable, parents).body.body
        if isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.Assign)
        and isinstance(statement.body[0].targets[0].target, cst.Name)
        and statement.body[0].targets[0].target.value == iterable.value
    ]
    assert len(bound) == 1, f"{iterable.value} is bound {len(bound)} times"
    value = bound[0]
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "list":
        return value.args[0].value
    return value


def _run(source: str, function: str) -> tuple[object, int]:
    """Run ``function`` of ``source`` (a module of the forum app); its result and query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    namespace: dict[str, object] = {"__name__": "forum.window_case"}
    exec(compile(source, "<case>", "exec"), namespace)  # noqa: S102 - our own fixture code
    with CaptureQueriesContext(connection) as queries:
        result = namespace[function]()  # type: ignore[operator]
    return result, len(queries.captured_queries)


def test_every_marked_report_is_checked() -> None:
    assert sum(expectations(DJS601_SOURCE).reported.values()) == len(DJS601_FINDINGS) >= 6


@pytest.mark.parametrize("violation", DJS601_FINDINGS, ids=lambda v: _function_at(DJS601_SOURCE, v.line))
def test_suggested_window_gives_the_joined_numbers_in_one_query(violation: Violation, forum: None) -> None:
    function = _function_at(DJS601_SOURCE, violation.line)
    joined, join_queries = _run(DJS601_SOURCE, function)
    window_source = _window_form(DJS601_SOURCE, violation)
    assert window_source != DJS601_SOURCE
    windowed, window_queries = _run(window_source, function)

    assert windowed == joined
    assert len(joined) >= 3 and len({row[-1] for row in joined}) > 1  # type: ignore[index, union-attr]
    assert (join_queries, window_queries) == (2, 1)


def test_window_over_other_rows_gives_other_numbers(forum: None) -> None:
    """Why the rule compares the filters: the aggregate over approved comments is
    not what a window over all comments computes (post 0's latest is unapproved)."""
    from django.db.models import F, Max, Window
    from forum.models import Comment

    joined, _ = _run(DJS601_SOURCE, "latest_approved_on_all")
    over_all = Comment.objects.annotate(last=Window(Max("created"), partition_by=F("post"))).order_by("pk")
    assert joined != [(c.pk, c.last) for c in over_all]


DJS602_SOURCE, DJS602_FINDINGS = _findings("DJS602")


@pytest.mark.parametrize("function", sorted({_function_at(DJS602_SOURCE, v.line) for v in DJS602_FINDINGS}))
def test_filter_on_window_runs_on_django_4_2_and_later(function: str, forum: None) -> None:
    import django

    assert django.VERSION >= (4, 2)
    result, queries = _run(DJS602_SOURCE, function)
    assert isinstance(result, list) and result and queries == 1
