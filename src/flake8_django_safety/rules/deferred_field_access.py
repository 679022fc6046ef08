from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flake8_django_safety.loops import COLUMN_RELATIONS, MANY, Loop, QuerysetLoops, literal_lookups

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.settings import Settings


class DeferredFieldAccess(QuerysetLoops):
    """
    ## What it does
    Flags, inside a loop or comprehension over a queryset of a project model
    built in the same function with `only()` or `defer()`, a read of a field
    that the call left out (`row.body` after `.only("title")` or
    `.defer("body")`; `row.author` or `row.author_id` when `author` is left
    out).

    ## Why is this bad?
    A deferred field is not gone: Django loads it when it is read, with one
    query for that one row. Read in a loop, it turns the single query that
    `only()` was meant to slim down into one query per row, which costs far
    more than the column it saved.

    ## Known problems
    Only fields the project declares are checked (a field inherited from a
    base outside the project is not known, so it is never reported). Silent
    when the chain holds both `only()` and `defer()`, when an argument is not
    a string literal, or when the queryset cannot be followed (see DJS402).
    Lookups through relations (`only("author__name")`) count as loading the
    relation's own field (`author`). Test modules are not linted.

    ## Example
    ```python
    from django.db import models


    class Article(models.Model):
        title = models.CharField(max_length=200)
        body = models.TextField()


    def teasers():
        return [(a.title, a.body[:100]) for a in Article.objects.only("title")]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Article(models.Model):
        title = models.CharField(max_length=200)
        body = models.TextField()


    def teasers():
        return [(a.title, a.body[:100]) for a in Article.objects.only("title", "body")]
    ```

    ## Options
    - `django-safety-test-patterns`

    ## References
    - [Django: `defer()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#defer)
    - [Django: `only()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#only)
    """

    code = "DJS403"
    name = "deferred-field-access"
    message = (
        "Deferred field: `{access}` was left out by `{method}()`, so reading it in this loop runs one query per "
        "`{model}` row; {advice}"
    )
    options = ("test_patterns",)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return ".only(" in text.text or ".defer(" in text.text

    def visit_Attribute(self, node: libcst.Attribute) -> None:
        loop = self.row_attribute(node)
        if loop is None:
            return
        deferred = self._deferred(loop)
        if deferred is None:
            return
        name = node.attr.value
        field = name if name in deferred[1] else name[:-3] if name.endswith("_id") else None
        if field is None or field not in deferred[1] or field in loop.reported:
            return
        loop.reported.add(field)
        method = deferred[0]
        advice = f'add "{field}" to `only()`' if method == "only" else f'remove "{field}" from `defer()`'
        self.report(
            node,
            self.message.format(
                access=self.context.code_for(node, 40), method=method, model=loop.chain.model.facts.name, advice=advice
            ),
        )

    def _deferred(self, loop: Loop) -> tuple[str, set[str]] | None:
        """(``only`` / ``defer``, the project-declared fields the chain leaves out),
        worked out once per loop."""
        if "deferred" not in loop.memo:
            loop.memo["deferred"] = self._work_out_deferred(loop)
        return cast("tuple[str, set[str]] | None", loop.memo["deferred"])

    def _work_out_deferred(self, loop: Loop) -> tuple[str, set[str]] | None:
        calls = [(name, call) for name, call in loop.chain.calls if name in ("only", "defer")]
        if not calls or len({name for name, _ in calls}) > 1:
            return None
        fields = {
            name
            for name, kind in self.fields(loop.chain.model).items()
            if (kind.endswith("Field") and kind not in MANY) or kind in COLUMN_RELATIONS
        }
        named: set[str] = set()
        for _, call in calls:
            lookups = literal_lookups(call)
            if lookups is None or (calls[0][0] == "defer" and lookups == []):
                return None
            named.update(lookup.split("__")[0] for lookup in lookups)
        method = calls[0][0]
        if method == "only":
            return method, fields - named - {"id", "pk"}
        return method, named & fields
