from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety.classes import ModuleClassRule, file_defines
from flake8_django_safety.drf import default_allows_any, view_without_permissions

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ProjectIndex
    from flake8_django_safety.settings import Settings


class ViewWithoutPermissionClasses(ModuleClassRule):
    """
    ## What it does
    Flags a Django REST framework `APIView`, generic view or `ViewSet`
    subclass that sets no `permission_classes` (nor `access_policy`, nor
    `get_permissions()`), itself or through project base classes, in a project
    whose settings leave `REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]` unset
    (DRF's default is `AllowAny`) or set it to `AllowAny`. Reported on the
    class.

    ## Why is this bad?
    With `AllowAny` as the default, a view that names no permission class
    lets anyone, signed in or not, call every method it implements. Writing
    `permission_classes = [AllowAny]` on the views that are meant to be public
    makes the choice visible in review; a safer default in the settings
    protects the views someone forgets.

    ## Known problems
    Off by default: many projects leave the default open on purpose for
    public, read-only APIs. Enable it with `--extend-select=DJS906`. Silent
    when no settings module is found, when a settings module computes the
    value, and when a base class of the view is another library's or cannot
    be read. An abstract base view whose subclasses all set
    `permission_classes` is reported too.

    ## Example
    ```python
    from rest_framework.response import Response
    from rest_framework.views import APIView


    class RefundView(APIView):
        def post(self, request):
            return Response(status=202)
    ```

    ## Use instead
    ```python
    from rest_framework.permissions import IsAdminUser
    from rest_framework.response import Response
    from rest_framework.views import APIView


    class RefundView(APIView):
        permission_classes = [IsAdminUser]

        def post(self, request):
            return Response(status=202)
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## References
    - [DRF: setting the permission policy](https://www.django-rest-framework.org/api-guide/permissions/#setting-the-permission-policy)
    - [Django: settings](https://docs.djangoproject.com/en/stable/topics/settings/)
    """

    code = "DJS906"
    default_enabled = False
    name = "view-without-permission-classes"
    message = (
        "View `{view}` sets no `permission_classes` and the project's default is `AllowAny`: "
        "anyone can call it; name its permission classes"
    )
    options = ("test_patterns", "cache_dir")

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return "View" in text.text and file_defines(
            text,
            settings,
            lambda project, item: default_allows_any(project) and view_without_permissions(project, item.qualname),
        )

    def visit_module_class(self, node: libcst.ClassDef, project: ProjectIndex, qualname: str) -> None:
        if default_allows_any(project) and view_without_permissions(project, qualname):
            self.report(node, self.message.format(view=node.name.value))
