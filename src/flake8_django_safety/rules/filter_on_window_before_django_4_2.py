from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.orm import split_chain
from flake8_django_safety.rule import FileContext, Rule

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.settings import Settings

WINDOW = frozenset({"django.db.models.Window", "django.db.models.expressions.Window"})
Q = frozenset({"django.db.models.Q", "django.db.models.query_utils.Q"})
F = frozenset({"django.db.models.F", "django.db.models.expressions.F"})
#: The first Django release that filters on window functions.
SUPPORTED = (4, 2)


class FilterOnWindowBeforeDjango42(Rule):
    """
    ## What it does
    Flags a `filter()` or `exclude()` lookup that names an alias the same
    queryset chain annotated with `Window(...)` (`rank__lte=3` after
    `.annotate(rank=Window(...))`, `.alias()` or `.values(rank=Window(...))`),
    also through a `Q(...)` argument or an
    `F("rank")` value, when `django-target-version` is below 4.2. The chain may
    be built over several statements of one function
    (`qs = qs.annotate(...)`, then `qs = qs.filter(...)`).

    ## Why is this bad?
    Django learnt to filter on window functions in 4.2. Before that, the
    lookup raises `NotSupportedError: Window is disallowed in the filter
    clause` when the queryset is built, so the code fails on every Django
    version the project still promises to support, however well it runs on
    the developer's newer one.

    ## Known problems
    Silent when no target version is given, and when the target is 4.2 or
    later. Only `Window` imported from `django.db.models` counts (a library's
    subclass is not recognised), only aliases of one function's chains are
    followed, and lookups passed as `**kwargs` are not read. Code guarded by a
    check of `django.VERSION` is reported all the same.

    ## Example
    ```python
    from django.db.models import F, Window
    from django.db.models.functions import Rank

    from myapp.models import Score


    def podium():
        ranked = Score.objects.annotate(
            rank=Window(Rank(), partition_by=F("game"), order_by=F("points").desc())
        )
        return ranked.filter(rank__lte=3)
    ```

    ## Use instead
    ```python
    from django.db.models import F, Window
    from django.db.models.functions import Rank

    from myapp.models import Score


    def podium():
        ranked = Score.objects.annotate(
            rank=Window(Rank(), partition_by=F("game"), order_by=F("points").desc())
        )
        return [score for score in ranked if score.rank <= 3]
    ```

    ## Options
    - `django-target-version`

    ## References
    - [Django 4.2 release notes: filtering against window functions](https://docs.djangoproject.com/en/stable/releases/4.2/#queryset)
    - [Django: window functions](https://docs.djangoproject.com/en/stable/ref/models/expressions/#window-functions)
    """

    code = "DJS602"
    name = "filter-on-window-before-django-4-2"
    message = (
        "Filter on window annotation `{alias}` (`{lookup}`) raises `NotSupportedError` on Django "
        "below 4.2 (target: {target}); filter the fetched rows in Python, or require Django 4.2"
    )
    options = ("django_target_version",)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        target = settings.target_version
        return target is not None and target < SUPPORTED and "Window(" in text.text

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        #: Per function: locals bound to a queryset chain, with its window aliases.
        self.frames: list[dict[str, frozenset[str]]] = [{}]

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        self.frames.append({})

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        self.frames.pop()

    def leave_Assign(self, original_node: libcst.Assign) -> None:
        aliases = self._aliases(original_node.value)
        for target in original_node.targets:
            if isinstance(target.target, cst.Name):
                if aliases:
                    self.frames[-1][target.target.value] = aliases
                else:
                    self.frames[-1].pop(target.target.value, None)

    def visit_Call(self, node: libcst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in ("filter", "exclude")):
            return
        aliases = self._aliases(func.value)
        if not aliases:
            return
        for arg in node.args:
            for reported, alias in self._references(arg, aliases):
                self.report(
                    reported,
                    self.message.format(
                        alias=alias,
                        lookup=self.context.code_for(reported, 50),
                        target=self.settings.django_target_version.strip(),
                    ),
                )

    def _aliases(self, node: libcst.BaseExpression) -> frozenset[str]:
        """The names ``node``'s chain annotated with ``Window(...)``, from a local onwards."""
        calls, base = split_chain(node)
        found = set(self.frames[-1].get(base.value, ())) if isinstance(base, cst.Name) else set()
        for name, call in calls:
            if name not in ("annotate", "alias", "values"):
                continue
            for arg in call.args:
                if arg.keyword is not None and isinstance(arg.value, cst.Call) and self._is(arg.value.func, WINDOW):
                    found.add(arg.keyword.value)
        return frozenset(found)

    def _references(
        self, arg: libcst.Arg, aliases: frozenset[str]
    ) -> Iterator[tuple[libcst.CSTNode, str]]:
        """The parts of a filter argument that name a window alias: a keyword
        lookup, inside `Q(...)` too, or an `F("alias")` in a value."""
        if arg.star:
            return
        if arg.keyword is not None:
            first = arg.keyword.value.split("__", 1)[0]
            if first in aliases:
                yield arg, first
        yield from self._in_expression(arg.value, aliases)

    def _in_expression(
        self, node: libcst.BaseExpression, aliases: frozenset[str]
    ) -> Iterator[tuple[libcst.CSTNode, str]]:
        if isinstance(node, cst.BinaryOperation):
            yield from self._in_expression(node.left, aliases)
            yield from self._in_expression(node.right, aliases)
        elif isinstance(node, cst.UnaryOperation):
            yield from self._in_expression(node.expression, aliases)
        elif isinstance(node, cst.Call) and self._is(node.func, Q):
            for arg in node.args:
                yield from self._references(arg, aliases)
        elif isinstance(node, cst.Call) and self._is(node.func, F) and node.args:
            name = node.args[0].value
            if isinstance(name, cst.SimpleString) and isinstance(name.evaluated_value, str):
                first = name.evaluated_value.split("__", 1)[0]
                if first in aliases:
                    yield node, first

    def _is(self, node: libcst.BaseExpression, names: frozenset[str]) -> bool:
        return self.context.imports.qualify(node) in names
