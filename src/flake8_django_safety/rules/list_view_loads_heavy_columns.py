from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.classes import ModuleClassRule
from flake8_django_safety.endpoints import (
    Endpoint,
    Queryset,
    heavy_fields,
    list_endpoint,
    list_serializers,
    defines_list_endpoint,
    serializer_shape,
    template_words,
)
from flake8_django_safety.rule import Fix, Safety
from flake8_django_safety.syntax import comma_separated, string_literal

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.project import ClassRef, ProjectIndex
    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.settings import Settings

#: Chain methods that already choose the columns.
_CHOOSES_COLUMNS = frozenset({"only", "defer", "values", "values_list"})


class ListViewLoadsHeavyColumns(ModuleClassRule):
    """
    ## What it does
    Flags the queryset of a list endpoint that loads heavy columns
    (`TextField`, `JSONField`, `BinaryField`, `ArrayField`, `HStoreField` and
    project or well-known third-party subclasses such as rich-text fields)
    that nothing on the page reads. List endpoints are Django's `ListView`
    (and `MultipleObjectMixin` subclasses) and DRF's list views and viewsets
    (`ListAPIView`, `ListCreateAPIView`, `ReadOnlyModelViewSet`,
    `ModelViewSet`, `GenericViewSet` with `ListModelMixin`), with their bases
    followed through project files.

    What reads a column: for DRF, the fields of the list action's serializer
    (`serializer_class`, or the `self.action == "list"` branch of
    `get_serializer_class()`), including `source=`, `SerializerMethodField`
    methods and model properties; for Django, the template (`template_name`
    or Django's default `<app>/<model>_list.html`, found in the project's
    `templates` folders, with the templates it extends and includes), and the
    model's `__str__`. The message names exactly the columns nobody reads.

    ## Why is this bad?
    A list page loads every column of every row. A `body` of a few kilobytes
    on each of 50 rows is transferred, decoded and kept in memory on every
    request, only to be thrown away. `.defer()` leaves those columns out of
    the SQL.

    ## Known problems
    Silent whenever it cannot see every reader: a serializer with
    `to_representation()` or `get_fields()`, a `SerializerMethodField`
    method that passes the row on, `source="*"`, a view that overrides
    `list()` or `get()`, a Django view with `get_template_names()` or a
    `get_context_data()` that touches the rows (`object_list`, `page_obj`,
    the context object name), a template that is not found, names its parent
    with a variable, or loads a tag library other than Django's own (a custom
    tag may read any field). A template "reads" a field when its name
    appears in any tag, which errs on the side of silence. Querysets
    inherited from a base view in another file, and views that do not name a
    list base in their own module, are not checked.

    ## Example
    ```python
    from django.db import models
    from rest_framework import generics, permissions, serializers


    class Article(models.Model):
        title = models.CharField(max_length=200)
        body = models.TextField()


    class ArticleSerializer(serializers.ModelSerializer):
        class Meta:
            model = Article
            fields = ["id", "title"]


    class ArticleList(generics.ListAPIView):
        queryset = Article.objects.all()
        serializer_class = ArticleSerializer
        permission_classes = [permissions.IsAuthenticated]
    ```

    ## Use instead
    ```python
    from django.db import models
    from rest_framework import generics, permissions, serializers


    class Article(models.Model):
        title = models.CharField(max_length=200)
        body = models.TextField()


    class ArticleSerializer(serializers.ModelSerializer):
        class Meta:
            model = Article
            fields = ["id", "title"]


    class ArticleList(generics.ListAPIView):
        queryset = Article.objects.all().defer("body")
        serializer_class = ArticleSerializer
        permission_classes = [permissions.IsAuthenticated]
    ```

    ## Options
    - `django-safety-test-patterns`

    ## Fix safety
    The fix appends `.defer(...)` with the unread columns to the queryset.
    It is unsafe: code this rule cannot see (a signal handler, a custom
    pagination class, a mixin in an installed package) that reads a deferred
    field runs one query per row. On a viewset whose actions on one object
    use a serializer that reads the column, the fix defers it in
    `get_queryset()` for the `list` action only.

    ## References
    - [Django: `defer()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#defer)
    - [Django: `ListView`](https://docs.djangoproject.com/en/stable/ref/class-based-views/generic-display/#listview)
    - [DRF: generic views](https://www.django-rest-framework.org/api-guide/generic-views/)
    """

    code = "DJS401"
    name = "list-view-loads-heavy-columns"
    message = "List endpoint loads {columns} of every `{model}` row, and {reader} never reads {pronoun}; add `.defer({args})` to the queryset"
    fix_safety = Safety.UNSAFE
    options = ("test_patterns",)

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return super().applies_to_file(filename, settings) and not settings.is_migration_file(filename)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return defines_list_endpoint(text, settings)

    def visit_module_class(self, node: libcst.ClassDef, project: ProjectIndex, qualname: str) -> None:
        endpoint = list_endpoint(self.context, node)
        if endpoint is None:
            return
        for queryset in endpoint.querysets:
            chain = queryset.chain
            if chain is None or _CHOOSES_COLUMNS & set(chain.names()):
                continue
            heavy = heavy_fields(project, chain.model)
            if not heavy:
                continue
            if endpoint.drf:
                self._check_serializer(project, endpoint, queryset, chain.model, heavy)
            else:
                self._check_template(project, endpoint, queryset, chain.model, heavy)

    def _check_serializer(
        self, project: ProjectIndex, endpoint: Endpoint, queryset: Queryset, model: ClassRef, heavy: list[str]
    ) -> None:
        serializers = list_serializers(self.context, endpoint)
        if serializers is None:
            return
        listing, other = serializers
        shape = serializer_shape(self.context, listing)
        if shape is None or shape.reads is None or shape.model.qualname != model.qualname:
            return
        unread = [name for name in heavy if name not in shape.reads]
        if not unread:
            return
        list_only = False
        if endpoint.detail and other.qualname != listing.qualname:
            detail = serializer_shape(self.context, other)
            list_only = detail is None or detail.reads is None or not detail.reads.isdisjoint(unread)
        fix = None
        if list_only:
            if "get_queryset" not in endpoint.methods and queryset.fixable is not None:
                fix = self._list_only_fix(endpoint, unread)
        elif queryset.fixable is not None:
            fix = _defer_fix(queryset.fixable, unread)
        self._report(queryset, model, unread, f"serializer `{shape.name}`", fix)

    def _check_template(
        self, project: ProjectIndex, endpoint: Endpoint, queryset: Queryset, model: ClassRef, heavy: list[str]
    ) -> None:
        if "get_template_names" in endpoint.methods or self._context_reads_rows(endpoint, model):
            return
        name = _template_name(endpoint, model)
        words = None if name is None else template_words(project, name)
        if words is None:
            return
        reads = set(words)
        for method_name in {"__str__"} | {word for word in words if project.method(model, word) is not None}:
            method = project.method(model, method_name)
            if method is None:
                continue
            if method.passes_self or method.self_calls:
                return  # a method the template calls may read anything
            reads |= method.reads
        unread = [field for field in heavy if field not in reads]
        if unread:
            fix = None if queryset.fixable is None else _defer_fix(queryset.fixable, unread)
            self._report(queryset, model, unread, f"template `{name}`", fix)

    def _context_reads_rows(self, endpoint: Endpoint, model: ClassRef) -> bool:
        """``get_context_data()`` touches the page's rows (``object_list``,
        ``page_obj``, the context object name): it may read any column."""
        method = endpoint.methods.get("get_context_data")
        if method is None:
            return False
        code = self.context.module.code_for_node(method)
        names = ["object_list", "page_obj", "paginator", f"{model.facts.name.lower()}_list"]
        assign = endpoint.attributes.get("context_object_name")
        if assign is not None:
            if not isinstance(assign.value, cst.SimpleString):
                return True
            names.append(str(assign.value.evaluated_value))
        return any(name in code for name in names)

    def _report(self, queryset: Queryset, model: ClassRef, unread: list[str], reader: str, fix: Fix | None) -> None:
        columns = ", ".join(f"`{name}`" for name in unread)
        self.report(
            queryset.node,
            self.message.format(
                columns=f"the heavy column{'s' if len(unread) > 1 else ''} {columns}",
                model=model.facts.name,
                reader=reader,
                pronoun="them" if len(unread) > 1 else "it",
                args=", ".join(f'"{name}"' for name in unread),
            ),
            fix,
        )

    def _list_only_fix(self, endpoint: Endpoint, unread: list[str]) -> Fix:
        module = self.context.module
        indent = module.default_indent
        args = ", ".join(f'"{name}"' for name in unread)
        method = cst.parse_statement(
            f"def get_queryset(self):\n"
            f"{indent}queryset = super().get_queryset()\n"
            f'{indent}if self.action == "list":\n'
            f"{indent}{indent}queryset = queryset.defer({args})\n"
            f"{indent}return queryset\n",
            config=module.config_for_parsing,
        )
        method = method.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
        body = endpoint.node.body
        assert isinstance(body, cst.IndentedBlock)
        return Fix(
            "Defer the unread columns in `get_queryset()` for the list action",
            Safety.UNSAFE,
            body,
            body.with_changes(body=[*body.body, method]),
        )


def _defer_fix(expression: libcst.BaseExpression, unread: list[str]) -> Fix:
    value = expression
    if not isinstance(value, (cst.Call, cst.Name, cst.Attribute, cst.Subscript)):
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    call = cst.Call(
        func=cst.Attribute(value=value, attr=cst.Name("defer")),
        args=comma_separated([cst.Arg(string_literal(name)) for name in unread]),
    )
    return Fix("Add `.defer(...)` with the unread columns", Safety.UNSAFE, expression, call)


def _template_name(endpoint: Endpoint, model: ClassRef) -> str | None:
    """``template_name`` (own or set by a project base) when literal, else
    Django's ``<app_label>/<model><template_name_suffix>.html``."""
    name = _string_attribute(endpoint, "template_name")
    if name is not None:
        return name or None
    suffix = _string_attribute(endpoint, "template_name_suffix")
    if suffix == "":
        return None
    parts = model.module.name.split(".")
    if "models" not in parts or parts.index("models") == 0:
        return None
    app_label = parts[parts.index("models") - 1]
    return f"{app_label}/{model.facts.name.lower()}{suffix or '_list'}.html"


def _string_attribute(endpoint: Endpoint, name: str) -> str | None:
    """The class attribute ``name`` when set to a string literal; None when
    nobody sets it; "" when it is set to anything else (it cannot be read)."""
    assign = endpoint.attributes.get(name)
    if assign is not None:
        value = assign.value
        if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
            return value.evaluated_value
        return ""
    if name in endpoint.inherited:
        value = endpoint.inherited[name]
        return value if isinstance(value, str) and type(value) is str else ""
    return None
