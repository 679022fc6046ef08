from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety.classes import ModuleClassRule, file_defines
from flake8_django_safety.drf import default_allows_any
from flake8_django_safety.drf_uses import view_without_permissions

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ProjectIndex
    from flake8_django_safety.settings import Settings


class ViewWithoutPermissionClasses(ModuleClassRule):
    """
    ## What it does
    Flags a Django REST framework `APIView`, generic view or `ViewSet`
    subclass that accepts writes with nothing guarding it, in a project whose
    settings leave `REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]` unset (DRF's
    default is `AllowAny`) or set it to `AllowAny`. Reported on the class.

    A view accepts writes when it serves an unsafe request that writes rows:
    DRF's `create` / `update` / `destroy` (`ModelViewSet`, the mixins, the
    generic views that include them), or a `post()` / `put()` / `patch()` /
    `delete()` handler (a viewset's `create()`...) of the project that calls
    `save()`, `delete()`, `create()`, `update()`, `bulk_create()`,
    `get_or_create()`, `set_password()`, `perform_create()`... itself or
    through the methods it calls on `self`.

    Nothing guards it when the view and its project base classes (read across
    files) set no `permission_classes`, `access_policy`, `get_permissions()`
    or `check_permissions()`; no `filter_backends` that may filter by user
    (anything but DRF's `SearchFilter` / `OrderingFilter` and django-filter's
    `DjangoFilterBackend`; the settings' `DEFAULT_FILTER_BACKENDS` when the
    view sets none); no method of theirs (`get_queryset()`, a handler,
    `initial()`, `dispatch()`, a helper) looks at `request.user` /
    `request.auth` (`self.request` too), raises `PermissionDenied` /
    `NotAuthenticated`, calls `self.permission_denied()`, answers 401 / 403
    or checks a credential the client sends (`authenticate()`,
    `check_password()`, `check_token()`, a URL keyword named like a secret:
    `token`, `activation_key`); no decorator of the class or of a method
    names an access check (`@method_decorator(login_required,
    name="dispatch")`, `permission_required`, a project's `token_required`);
    and `authentication_classes` is not emptied (a view only anonymous
    clients call: a webhook).

    ## Why is this bad?
    With `AllowAny` as the default, a view that names no permission class
    and checks nobody lets anyone, signed in or not, create, change or delete
    what it serves. Writing `permission_classes = [AllowAny]` on the views
    that are meant to be public makes the choice visible in review; a safer
    default in the settings protects the views someone forgets.

    ## Known problems
    Off by default: many projects leave the default open on purpose. Enable
    it with `--extend-select=DJS906`. RULES.md asks for every view without
    `permission_classes`; on real applications "no `permission_classes`" is
    rarely "no access control" (ACL filter backends, handlers that check the
    user themselves, public read-only APIs), so the rule keeps to views that
    write with no visible guard. Read-only views are silent, even when they
    serve data someone should not see: whether data is public cannot be read
    from the code. Silent when no settings module is found, when a settings
    module computes the value, and when a base class of the view is another
    library's or cannot be read. A write done by a module function or
    service the handler calls is not seen (the view is then silent), nor are
    extra `@action`s.

    ## Example
    ```python
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from shop.models import Refund


    class RefundView(APIView):
        def post(self, request):
            Refund.objects.create(order_id=request.data["order"])
            return Response(status=202)
    ```

    ## Use instead
    ```python
    from rest_framework.permissions import IsAdminUser
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from shop.models import Refund


    class RefundView(APIView):
        permission_classes = [IsAdminUser]

        def post(self, request):
            Refund.objects.create(order_id=request.data["order"])
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
