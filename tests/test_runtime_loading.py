"""DJS402 and DJS403 claims counted on a real database: the flagged loop runs one
query per row, the corrected loop a constant number, and both return the same data."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("django")

from flake8_django_safety.engine import Engine  # noqa: E402
from flake8_django_safety.rule import registered_rules  # noqa: E402
from flake8_django_safety.settings import Settings  # noqa: E402

RUNTIME = Path(__file__).parent / "runtime"
sys.path.insert(0, str(RUNTIME))

from djangoenv import loading_rows  # noqa: E402

ROWS = 7

CASES = {
    # code: (flagged, corrected); each defines `run()`.
    "forward relation": (
        "DJS402",
        """
        from loading_app.models import Article

        def run():
            return [(a.title, a.author.name) for a in Article.objects.order_by("pk")]
        """,
        """
        from loading_app.models import Article

        def run():
            return [(a.title, a.author.name) for a in Article.objects.select_related("author").order_by("pk")]
        """,
    ),
    "many-to-many manager": (
        "DJS402",
        """
        from loading_app.models import Article

        def run():
            rows = Article.objects.order_by("pk")
            return [sorted(t.name for t in row.tags.all()) for row in rows]
        """,
        """
        from loading_app.models import Article

        def run():
            rows = Article.objects.prefetch_related("tags").order_by("pk")
            return [sorted(t.name for t in row.tags.all()) for row in rows]
        """,
    ),
    "deferred field": (
        "DJS403",
        """
        from loading_app.models import Article

        def run():
            return [(a.title, a.body[:10]) for a in Article.objects.only("title").order_by("pk")]
        """,
        """
        from loading_app.models import Article

        def run():
            return [(a.title, a.body[:10]) for a in Article.objects.only("title", "body").order_by("pk")]
        """,
    ),
}


@pytest.fixture(scope="module")
def articles() -> Iterator[int]:
    with loading_rows(ROWS, "body {i} " * 50) as rows:
        yield rows


def _codes(source: str, code: str) -> list[str]:
    engine = Engine([registered_rules()[code]], Settings(cache_dir="none", test_patterns=()))
    return [v.code for v in engine.lint_text(source, str(RUNTIME / "services.py"))]


def _run_counting(source: str) -> tuple[object, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    namespace: dict[str, object] = {}
    exec(compile(source, "<case>", "exec"), namespace)  # noqa: S102 - our own test code
    with CaptureQueriesContext(connection) as queries:
        result = namespace["run"]()  # type: ignore[operator]
    return result, len(queries.captured_queries)


@pytest.mark.parametrize("case", CASES)
def test_flagged_loop_queries_per_row_and_the_corrected_one_does_not(case: str, articles: int) -> None:
    code, flagged, corrected = (CASES[case][0], *(textwrap.dedent(s) for s in CASES[case][1:]))
    assert _codes(flagged, code) == [code]
    assert _codes(corrected, code) == []

    flagged_rows, flagged_queries = _run_counting(flagged)
    corrected_rows, corrected_queries = _run_counting(corrected)

    assert flagged_rows == corrected_rows  # same data
    assert flagged_queries == 1 + articles  # one for the list, one per row
    assert corrected_queries <= 2  # a join, or one prefetch query
