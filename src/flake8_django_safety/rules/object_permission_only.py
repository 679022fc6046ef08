from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.classes import ModuleClassRule, file_defines
from flake8_django_safety.drf import object_only_permission

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
    from `BasePermission`. Reported on `def has_object_permission`.

    ## Why is this bad?
    `BasePermission.has_permission()` returns `True`. DRF calls
    `has_object_permission()` only from `get_object()`, that is for retrieve,
    update and destroy: a list or a create request never reaches it. A view
    protected by this class alone lets anyone list every object and create
    new ones, although the class reads as if it guarded the view.

    ## Known problems
    Off by default. The usual use of such a class is DRF's own tutorial
    pattern, `permission_classes = [IsAuthenticatedOrReadOnly,
    IsOwnerOrReadOnly]`, or `[IsAuthenticated, IsOwner]` on a viewset whose
    `get_queryset()` filters by owner: there the other permission guards list
    and create, and a report on the class is noise. The rule does not yet look
    at how the class is used (docs/precision.md has the evidence). Enable it
    with `--extend-select=DJS901`.

    Silent when a base class defines `has_permission()` (a project base, or a
    library class such as `IsAuthenticated`), when a base cannot be resolved,
    and in test modules.

    ## Example
    ```python
    from rest_framework.permissions import BasePermission


    class IsOwner(BasePermission):
        def has_object_permission(self, request, view, obj):
            return obj.owner == request.user
    ```

    ## Use instead
    ```python
    from rest_framework.permissions import BasePermission


    class IsOwner(BasePermission):
        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated)

        def has_object_permission(self, request, view, obj):
            return obj.owner == request.user
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## References
    - [DRF: object level permissions](https://www.django-rest-framework.org/api-guide/permissions/#object-level-permissions)
    - [DRF: custom permissions](https://www.django-rest-framework.org/api-guide/permissions/#custom-permissions)
    - [Django: permissions and authorization](https://docs.djangoproject.com/en/stable/topics/auth/default/#permissions-and-authorization)
    """

    code = "DJS901"
    default_enabled = False
    name = "object-permission-only"
    message = (
        "Permission `{permission}` implements only `has_object_permission()`: list and create requests never "
        "reach it "
        "(`has_permission()` returns True); define `has_permission()`"
    )
    options = ("test_patterns", "cache_dir")

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return "has_object_permission" in text.text and file_defines(
            text,
            settings,
            lambda project, item: "has_object_permission" in item.methods
            and object_only_permission(project, item.qualname),
        )

    def visit_module_class(self, node: libcst.ClassDef, project: ProjectIndex, qualname: str) -> None:
        if not object_only_permission(project, qualname):
            return
        for statement in node.body.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == "has_object_permission":
                self.report(statement, self.message.format(permission=node.name.value))
