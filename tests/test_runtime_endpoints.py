"""DJS401 and the serializer form of DJS402 on real DRF list endpoints with SQLite.

DJS401: the fixed endpoint (our fixer's own output) serializes exactly what the
flagged one did, and the heavy column is absent from its SQL; on a viewset the
detail action still loads it. DJS402: the flagged endpoint runs one query per
row, the corrected one a constant number, with the same output.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("django")
pytest.importorskip("rest_framework")

from flake8_django_safety.engine import Engine, parse  # noqa: E402
from flake8_django_safety.fixer import fix_module  # noqa: E402
from flake8_django_safety.rule import registered_rules  # noqa: E402
from flake8_django_safety.settings import Settings  # noqa: E402

RUNTIME = Path(__file__).parent / "runtime"
sys.path.insert(0, str(RUNTIME))

from djangoenv import loading_rows  # noqa: E402

ROWS = 6
BODY_COLUMN = '"loading_app_article"."body"'

SERIALIZERS = """
from rest_framework import generics, serializers, viewsets

from loading_app.models import Article


class ArticleTitleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ["id", "title"]


class ArticleDetailSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ["id", "title", "body"]
"""


@pytest.fixture(scope="module")
def articles() -> Iterator[int]:
    """Rows of the shared in-memory database, alone in their tables while this module runs."""
    with loading_rows(ROWS, "long text {i} " * 200) as rows:
        yield rows


def _engine(code: str) -> Engine:
    return Engine([registered_rules()[code]], Settings(cache_dir="none", test_patterns=()))


def _codes(source: str, code: str) -> list[str]:
    return [v.code for v in _engine(code).lint_text(source, str(RUNTIME / "api.py"))]


def _fixed(source: str) -> str:
    result = fix_module(_engine("DJS401"), parse(source), str(RUNTIME / "api.py"), unsafe=True)
    assert result.applied == 1 and result.converged
    return result.module.code


def _call(source: str, view: str, actions: dict[str, str] | None = None, **kwargs: object) -> tuple[object, list[str]]:
    """Run ``view`` of ``source`` on a GET request: (response data, SQL run)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIRequestFactory

    namespace: dict[str, object] = {"__name__": "endpoint_case"}
    exec(compile(source, "<case>", "exec"), namespace)  # noqa: S102 - our own test code
    cls = namespace[view]
    cls.authentication_classes = []  # type: ignore[attr-defined]
    cls.permission_classes = []  # type: ignore[attr-defined]
    callable_view = cls.as_view(actions) if actions else cls.as_view()  # type: ignore[attr-defined]
    with CaptureQueriesContext(connection) as queries:
        response = callable_view(APIRequestFactory().get("/"), **kwargs)
    assert response.status_code == 200, response.data
    return response.data, [query["sql"] for query in queries.captured_queries]


def test_defer_fix_keeps_the_output_and_drops_the_column(articles: int) -> None:
    flagged = SERIALIZERS + textwrap.dedent(
        """
        class ArticleList(generics.ListAPIView):
            queryset = Article.objects.order_by("pk")
            serializer_class = ArticleTitleSerializer
        """
    )
    assert _codes(flagged, "DJS401") == ["DJS401"]
    fixed = _fixed(flagged)
    assert 'queryset = Article.objects.order_by("pk").defer("body")' in fixed
    assert _codes(fixed, "DJS401") == []

    before, before_sql = _call(flagged, "ArticleList")
    after, after_sql = _call(fixed, "ArticleList")
    assert before == after and len(after) == articles  # type: ignore[arg-type]
    assert any(BODY_COLUMN in sql for sql in before_sql)
    assert not any(BODY_COLUMN in sql for sql in after_sql)
    assert len(after_sql) == len(before_sql) == 1  # nothing reads the deferred column later


def test_viewset_fix_defers_for_the_list_action_only(articles: int) -> None:
    flagged = SERIALIZERS + textwrap.dedent(
        """
        class ArticleViewSet(viewsets.ModelViewSet):
            queryset = Article.objects.order_by("pk")
            serializer_class = ArticleDetailSerializer

            def get_serializer_class(self):
                if self.action == "list":
                    return ArticleTitleSerializer
                return super().get_serializer_class()
        """
    )
    assert _codes(flagged, "DJS401") == ["DJS401"]
    fixed = _fixed(flagged)
    assert 'if self.action == "list":\n            queryset = queryset.defer("body")' in fixed
    assert _codes(fixed, "DJS401") == []

    before, before_sql = _call(flagged, "ArticleViewSet", {"get": "list"})
    after, after_sql = _call(fixed, "ArticleViewSet", {"get": "list"})
    assert before == after and len(after) == articles  # type: ignore[arg-type]
    assert any(BODY_COLUMN in sql for sql in before_sql)
    assert not any(BODY_COLUMN in sql for sql in after_sql)

    from loading_app.models import Article

    pk = Article.objects.order_by("pk").values_list("pk", flat=True).first()
    detail, detail_sql = _call(fixed, "ArticleViewSet", {"get": "retrieve"}, pk=pk)
    assert detail["body"].startswith("long text")  # type: ignore[index]
    assert len(detail_sql) == 1 and BODY_COLUMN in detail_sql[0]  # loaded with the row, not deferred


NPLUSONE = {
    "dotted source": (
        'author_name = serializers.CharField(source="author.name")',
        '["id", "author_name"]',
        '.select_related("author")',
    ),
    "many-to-many field": ("", '["id", "tags"]', '.prefetch_related("tags")'),
}


@pytest.mark.parametrize("case", NPLUSONE)
def test_serializer_follows_a_relation_once_per_row(case: str, articles: int) -> None:
    declared, fields, loading = NPLUSONE[case]
    template = textwrap.dedent(
        """
        from rest_framework import generics, serializers

        from loading_app.models import Article


        class RowSerializer(serializers.ModelSerializer):
            {declared}

            class Meta:
                model = Article
                fields = {fields}


        class ArticleList(generics.ListAPIView):
            queryset = Article.objects.defer("body"){loading}.order_by("pk")
            serializer_class = RowSerializer
        """
    )
    flagged = template.format(declared=declared or "pass", fields=fields, loading="")
    corrected = template.format(declared=declared or "pass", fields=fields, loading=loading)
    assert _codes(flagged, "DJS402") == ["DJS402"]
    assert _codes(corrected, "DJS402") == []

    before, before_sql = _call(flagged, "ArticleList")
    after, after_sql = _call(corrected, "ArticleList")
    assert before == after and len(after) == articles  # type: ignore[arg-type]
    assert len(before_sql) == 1 + articles  # the list, then one query per row
    assert len(after_sql) <= 2  # a join, or one prefetch query
