from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.classes import ModuleClassRule, file_defines
from flake8_django_safety.drf import object_only_permission
from flake8_django_safety.drf_uses import ALLOW_ANY, Use, lets_through, uses_of

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ProjectIndex
    from flake8_django_safety.settings import Settings


class ObjectPermissionOnly(ModuleClassRule):
    """
    ## What it does
    Flags a Django REST framework permission class (a subclass of
    `BasePermission`, also through project base classes in other modules)
    that implements `has_object_permission()` but inherits `has_permission()`
    from `BasePermission`, when some view of the project uses it where nothing
    else guards the requests that never reach `has_object_permission()`:
    alone in `permission_classes` (its own, a project base's, or the
    settings' `DEFAULT_PERMISSION_CLASSES` for a view that sets none),
    combined only with permissions that let everything through (`AllowAny`,
    other object-only classes), or on one side of `|`. Reported on
    `def has_object_permission`; the message names such a view.

    ## Why is this bad?
    `BasePermission.has_permission()` returns `True`. DRF calls
    `has_object_permission()` only from `get_object()`, that is for retrieve,
    update and destroy: a list or a create request never reaches it, nor does
    any request to a function view. A view protected by this class alone lets
    anyone list every object and create new ones, although the class reads as
    if it guarded the view.

    ## Known problems
    Only literal uses count: a view whose `permission_classes` is computed,
    that overrides `get_permissions()` / `check_permissions()`, or that has a
    base class of another library is taken to guard itself, and
    `@action(permission_classes=...)` is not read. Views are found in the
    modules that say `permission_classes` or `access_policy`; a view that
    inherits its permissions from a project base and lives in a module that
    says neither is not seen. A class no view of the project uses is not
    reported: a library that ships such a class for others is judged in the
    projects that use it, where the class lies outside the project and is not
    read either.

    A class whose check looks at the request method or the view's action
    (`SAFE_METHODS`, `request.method`, `view.action`), or defers to a base
    class, may let every read through: for it only unguarded writes (create,
    a `post()` that loads no object) count, not lists. An action the view
    routes is judged by DRF's class that provides it (`list` and `create`
    load no object); a handler the project writes counts as guarded when it
    calls `self.get_object()` or `self.check_object_permissions()`. Silent
    when a base class defines `has_permission()` (a project base, or a library
    class such as `IsAuthenticated`), when a base cannot be resolved, and in
    test modules (also for uses in test modules).

    ## Example
    ```python
    from rest_framework.permissions import BasePermission
    from rest_framework.viewsets import ModelViewSet


    class IsOwner(BasePermission):
        def has_object_permission(self, request, view, obj):
            return obj.owner == request.user


    class DocumentViewSet(ModelViewSet):
        permission_classes = [IsOwner]
    ```

    ## Use instead
    ```python
    from rest_framework.permissions import BasePermission
    from rest_framework.viewsets import ModelViewSet


    class IsOwner(BasePermission):
        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated)

        def has_object_permission(self, request, view, obj):
            return obj.owner == request.user


    class DocumentViewSet(ModelViewSet):
        permission_classes = [IsOwner]
    ```

    Or keep the class and guard list and create next to it, with a
    `get_queryset()` that returns only the user's objects:
    ```python
    from rest_framework.permissions import BasePermission, IsAuthenticated
    from rest_framework.viewsets import ModelViewSet


    class IsOwner(BasePermission):
        def has_object_permission(self, request, view, obj):
            return obj.owner == request.user


    class DocumentViewSet(ModelViewSet):
        permission_classes = [IsAuthenticated, IsOwner]

        def get_queryset(self):
            return self.request.user.documents.all()
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## References
    - [DRF: object level permissions](https://www.django-rest-framework.org/api-guide/permissions/#object-level-permissions)
    - [DRF: limitations of object level permissions](https://www.django-rest-framework.org/api-guide/permissions/#limitations-of-object-level-permissions)
    - [DRF: custom permissions](https://www.django-rest-framework.org/api-guide/permissions/#custom-permissions)
    - [Django: permissions and authorization](https://docs.djangoproject.com/en/stable/topics/auth/default/#permissions-and-authorization)
    """

    code = "DJS901"
    name = "object-permission-only"
    message = (
        "Permission `{permission}` implements only `has_object_permission()`: {requests} to `{view}` never "
        "reach it and nothing else there guards them; define `has_permission()`"
    )
    options = ("test_patterns", "cache_dir")

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return "has_object_permission" in text.text and file_defines(
            text,
            settings,
            lambda project, item: "has_object_permission" in item.methods
            and object_only_permission(project, item.qualname)
            and open_use(project, settings, item.qualname, reads_pass=False) is not None,
        )

    def visit_module_class(self, node: libcst.ClassDef, project: ProjectIndex, qualname: str) -> None:
        if not object_only_permission(project, qualname):
            return
        for statement in node.body.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == "has_object_permission":
                reads_pass = _may_let_reads_pass(statement)
                use = open_use(project, self.settings, qualname, reads_pass=reads_pass)
                if use is None:
                    return
                reads = use.unchecked_reads and not reads_pass
                requests = " and ".join(
                    kind for kind, shown in (("list", reads), ("create", use.unchecked_writes)) if shown
                )
                self.report(
                    statement,
                    self.message.format(permission=node.name.value, requests=f"{requests} requests", view=use.label),
                )


def open_use(project: ProjectIndex, settings: Settings, qualname: str, *, reads_pass: bool) -> Use | None:
    """A use of the object-only permission ``qualname`` where nothing else guards
    requests that never reach ``has_object_permission()``: reads among them only
    when the permission does not let reads pass anyway (``reads_pass``)."""
    known: dict[str, bool] = {}

    def allows(name: str) -> bool:
        if name not in known:
            known[name] = name in ALLOW_ANY or object_only_permission(project, name)
        return known[name]

    for use in uses_of(project, settings, qualname):
        if (use.unchecked_writes or (use.unchecked_reads and not reads_pass)) and lets_through(use.terms, allows):
            return use
    return None


def _may_let_reads_pass(function: libcst.FunctionDef) -> bool:
    """The check looks at the request's method or the view's action
    (``SAFE_METHODS``, ``request.method``, ``view.action``), or defers to a base
    class: it may let every read through, so a list is no hole."""
    stack: list[libcst.CSTNode] = [function.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name) and node.value in ("SAFE_METHODS", "method", "action", "super"):
            return True
        stack.extend(node.children)
    return False
