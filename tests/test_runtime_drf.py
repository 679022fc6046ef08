"""DJS9xx claims shown on real Django REST framework and drf-access-policy: each
flagged permission or policy lets a request through, refuses it, or fails the
way the rule's message says, and the corrected one behaves.

Each case is linted first (the flagged source reports exactly its rule, the
corrected one nothing), then executed and served requests with DRF's
``APIRequestFactory``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("rest_framework")
pytest.importorskip("rest_access_policy")

from flake8_django_safety.engine import Engine  # noqa: E402
from flake8_django_safety.rule import registered_rules  # noqa: E402
from flake8_django_safety.settings import Settings  # noqa: E402

RUNTIME = Path(__file__).parent / "runtime"
#: A fixture project whose settings leave DEFAULT_PERMISSION_CLASSES at AllowAny.
API_PROJECT = Path(__file__).parent / "fixtures" / "projects" / "api" / "accounts"
sys.path.insert(0, str(RUNTIME))

from djangoenv import setup_django  # noqa: E402

POLICY_HEADER = """
from rest_access_policy import AccessPolicy, Statement
"""


@pytest.fixture(scope="module")
def users():
    """A staff user, an ordinary user and the anonymous user, saved in the database
    (drf-access-policy reads ``user.groups`` when no named principal matches)."""
    setup_django()
    from django.apps import apps
    from django.contrib.auth.models import AnonymousUser, User
    from django.db import connection

    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for label in ("contenttypes", "auth"):
            for model in apps.get_app_config(label).get_models():
                if model._meta.db_table not in existing:
                    editor.create_model(model)
    staff, _ = User.objects.get_or_create(username="stella", defaults={"is_staff": True})
    user, _ = User.objects.get_or_create(username="uma")
    return {"staff": staff, "user": user, "anonymous": AnonymousUser()}


def _reported(source: str, code: str, folder: Path = RUNTIME) -> list[str]:
    engine = Engine(registered_rules().values(), Settings(cache_dir="none", test_patterns=()))
    return [v.code for v in engine.lint_text(source, str(folder / "policies.py"))]


def _load(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(source, "<case>", "exec"), namespace)  # noqa: S102 - our own case code
    return namespace


#: A viewset whose list and create load no object and whose retrieve checks one.
VIEWSET = """
from rest_framework import viewsets
from rest_framework.response import Response


class Document:
    def __init__(self, owner):
        self.owner = owner


class Documents(viewsets.ViewSet):
    permission_classes = {permission_classes}

    def list(self, request):
        return Response(["every", "document"])

    def create(self, request):
        return Response(status=201)

    def retrieve(self, request, pk=None):
        self.check_object_permissions(request, Document(owner="stella"))
        return Response({{"pk": pk}})
"""


def _request(permission: type, user: object, method: str = "get", action: str = "list") -> int:
    """Status of ``method`` on a viewset action guarded by ``permission``."""
    namespace: dict[str, object] = {"Guard": permission}
    exec(compile(VIEWSET.format(permission_classes="[Guard]"), "<viewset>", "exec"), namespace)  # noqa: S102
    return _serve(namespace["Documents"], user, method, action)  # type: ignore[arg-type]


def _serve(viewset: type, user: object, method: str = "get", action: str = "list") -> int:
    """Status of ``method`` on the ``action`` of ``viewset``, as ``user``."""
    from rest_framework.test import APIRequestFactory, force_authenticate

    request = getattr(APIRequestFactory(), method)("/documents/")
    if not getattr(user, "is_anonymous", False):
        force_authenticate(request, user=user)
    view = viewset.as_view({method: action})
    kwargs = {"pk": "1"} if action == "retrieve" else {}
    return view(request, **kwargs).status_code


def _case(flagged: str, corrected: str, code: str, folder: Path = RUNTIME) -> tuple[dict, dict]:
    flagged = POLICY_HEADER + textwrap.dedent(flagged)
    corrected = POLICY_HEADER + textwrap.dedent(corrected)
    assert _reported(flagged, code, folder) == [code]
    assert _reported(corrected, code, folder) == []
    return _load(flagged), _load(corrected)


def test_djs902_misspelled_condition_key_grants_access(users) -> None:
    statement = """
    class ArticlePolicy(AccessPolicy):
        statements = [
            {{"action": ["list"], "principal": ["authenticated"], "effect": "allow", "{key}": "is_editor"}},
        ]

        def is_editor(self, request, view, action) -> bool:
            return request.user.username == "stella"
    """
    flagged, corrected = _case(statement.format(key="conditions"), statement.format(key="condition"), "DJS902")
    assert _request(flagged["ArticlePolicy"], users["user"]) == 200  # the condition was dropped
    assert _request(corrected["ArticlePolicy"], users["user"]) == 403
    assert _request(corrected["ArticlePolicy"], users["staff"]) == 200


def test_djs902_capitalised_effect_denies(users) -> None:
    statement = """
    class ArticlePolicy(AccessPolicy):
        statements = [{{"action": ["list"], "principal": ["authenticated"], "effect": "{effect}"}}]
    """
    flagged, corrected = _case(statement.format(effect="Allow"), statement.format(effect="allow"), "DJS902")
    assert _request(flagged["ArticlePolicy"], users["user"]) == 403
    assert _request(corrected["ArticlePolicy"], users["user"]) == 200


def test_djs902_missing_keys_fail_at_request_time(users) -> None:
    flagged, corrected = _case(
        """
        class ArticlePolicy(AccessPolicy):
            statements = [
                {"action": ["list"], "principal": ["authenticated"], "effect": "allow"},
                {"action": ["destroy"], "effect": "allow"},
            ]
        """,
        """
        class ArticlePolicy(AccessPolicy):
            statements = [
                {"action": ["list"], "principal": ["authenticated"], "effect": "allow"},
                {"action": ["destroy"], "principal": ["staff"], "effect": "allow"},
            ]
        """,
        "DJS902",
    )
    with pytest.raises(KeyError, match="principal"):
        _request(flagged["ArticlePolicy"], users["user"])  # a list request, not even the broken statement's action
    assert _request(corrected["ArticlePolicy"], users["user"]) == 200


def test_djs902_statement_dataclass_fails_at_import() -> None:
    flagged = POLICY_HEADER + textwrap.dedent(
        """
        class ArticlePolicy(AccessPolicy):
            statements = [Statement(principal="*", action="list", effect="Allow")]
        """
    )
    assert _reported(flagged, "DJS902") == ["DJS902"]
    with pytest.raises(Exception, match="effect must be one of"):
        _load(flagged)


def test_djs903_uppercase_method_never_matches(users) -> None:
    statement = """
    class ReportPolicy(AccessPolicy):
        statements = [{{"action": ["{action}"], "principal": ["{principal}"], "effect": "allow"}}]
    """
    flagged, corrected = _case(
        statement.format(action="<method:GET>", principal="authenticated"),
        statement.format(action="<method:get>", principal="authenticated"),
        "DJS903",
    )
    assert _request(flagged["ReportPolicy"], users["user"]) == 403
    assert _request(corrected["ReportPolicy"], users["user"]) == 200
    flagged, corrected = _case(
        statement.format(action="list", principal="Staff"),
        statement.format(action="list", principal="staff"),
        "DJS903",
    )
    assert _request(flagged["ReportPolicy"], users["staff"]) == 403
    assert _request(corrected["ReportPolicy"], users["staff"]) == 200


def test_djs904_missing_condition_method_raises(users) -> None:
    from rest_access_policy import AccessPolicyException

    statement = """
    class ArticlePolicy(AccessPolicy):
        statements = [
            {{"action": ["list"], "principal": ["authenticated"], "effect": "allow", "condition_expression": "{expr}"}},
        ]

        def is_editor(self, request, view, action) -> bool:
            return request.user.username == "stella"
    """
    flagged, corrected = _case(
        statement.format(expr="is_editor or is_owner"),
        statement.format(expr="is_editor"),
        "DJS904",
        API_PROJECT,  # a project with settings: its reusable conditions are known
    )
    with pytest.raises(AccessPolicyException, match="is_owner"):
        _request(flagged["ArticlePolicy"], users["user"])
    assert _request(corrected["ArticlePolicy"], users["user"]) == 403
    assert _request(corrected["ArticlePolicy"], users["staff"]) == 200


#: A viewset that writes, guarded by ``ProductPolicy``.
PRODUCTS = VIEWSET.format(permission_classes="[ProductPolicy]")


def test_djs905_allow_all_lets_anonymous_users_write(users) -> None:
    flagged, corrected = _case(
        textwrap.dedent(
            """
            class ProductPolicy(AccessPolicy):
                statements = [{"action": ["*"], "principal": ["*"], "effect": "allow"}]
            """
        )
        + PRODUCTS,
        textwrap.dedent(
            """
            class ProductPolicy(AccessPolicy):
                statements = [
                    {"action": ["<safe_methods>"], "principal": ["*"], "effect": "allow"},
                    {"action": ["*"], "principal": ["staff"], "effect": "allow"},
                ]
            """
        )
        + PRODUCTS,
        "DJS905",
    )
    assert _serve(flagged["Documents"], users["anonymous"], "post", "create") == 201
    assert _serve(corrected["Documents"], users["anonymous"], "post", "create") in (401, 403)
    assert _serve(corrected["Documents"], users["anonymous"]) == 200
    assert _serve(corrected["Documents"], users["staff"], "post", "create") == 201


def test_djs905_allow_all_on_a_read_only_view_is_silent(users) -> None:
    """The deliberate public page: the allow-all guards a view that serves only
    reads, so nobody can write through it, and the rule stays silent."""
    source = POLICY_HEADER + textwrap.dedent(
        """
        from rest_framework import viewsets
        from rest_framework.response import Response


        class LandingPagePolicy(AccessPolicy):
            statements = [{"principal": ["anonymous", "authenticated"], "action": "*", "effect": "allow"}]


        class LandingPage(viewsets.ViewSet):
            permission_classes = [LandingPagePolicy]

            def list(self, request):
                return Response({"status": "OK"})
        """
    )
    assert _reported(source, "DJS905") == []
    page = _load(source)["LandingPage"]
    assert _serve(page, users["anonymous"]) == 200
    assert not hasattr(page, "create")  # nothing routes a write to it


#: A permission class that checks only objects.
OWNER_ONLY = """
from rest_framework.permissions import BasePermission, IsAuthenticated


class IsOwner(BasePermission):
{has_permission}
    def has_object_permission(self, request, view, obj):
        return obj.owner == request.user.username
"""
HAS_PERMISSION = """
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)
"""


def _owner_only(has_permission: str, permission_classes: str) -> str:
    """``IsOwner`` (with ``has_permission``) and the viewset guarded by ``permission_classes``."""
    return OWNER_ONLY.format(has_permission=has_permission) + VIEWSET.format(permission_classes=permission_classes)


def test_djs901_object_only_permission_leaves_list_and_create_open(users) -> None:
    flagged, corrected = _case(
        _owner_only("", "[IsOwner]"),
        _owner_only(HAS_PERMISSION, "[IsOwner]"),
        "DJS901",
    )
    owner_only = flagged["Documents"]
    assert _serve(owner_only, users["user"], action="retrieve") == 403  # the object check works...
    assert _serve(owner_only, users["anonymous"]) == 200  # ...but nobody is asked on list
    assert _serve(owner_only, users["anonymous"], "post", "create") == 201
    fixed = corrected["Documents"]
    assert _serve(fixed, users["anonymous"]) in (401, 403)
    assert _serve(fixed, users["anonymous"], "post", "create") in (401, 403)
    assert _serve(fixed, users["user"], action="retrieve") == 403
    assert _serve(fixed, users["staff"], action="retrieve") == 200


@pytest.mark.parametrize("combined", ["[IsAuthenticated, IsOwner]", "(IsAuthenticated & IsOwner,)"])
def test_djs901_combined_with_a_guard_keeps_list_and_create_closed(users, combined: str) -> None:
    """The same class next to (or ``&``-ed with) a permission that guards list
    and create is no hole, and the rule stays silent."""
    source = POLICY_HEADER + textwrap.dedent(_owner_only("", combined))
    assert _reported(source, "DJS901") == []
    combined_view = _load(source)["Documents"]
    assert _serve(combined_view, users["anonymous"]) in (401, 403)
    assert _serve(combined_view, users["anonymous"], "post", "create") in (401, 403)
    assert _serve(combined_view, users["user"]) == 200
    assert _serve(combined_view, users["user"], action="retrieve") == 403
    assert _serve(combined_view, users["staff"], action="retrieve") == 200


def test_djs906_view_without_permission_classes_is_open_under_the_default(users) -> None:
    view = """
    from django.contrib.auth.models import Group
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView


    class GroupCreate(APIView):
        {permissions}
        def post(self, request):
            Group.objects.create(name=request.data["name"])
            return Response(status=201)
    """
    flagged = textwrap.dedent(view.format(permissions=""))
    corrected = textwrap.dedent(view.format(permissions="permission_classes = [IsAuthenticated]\n"))
    assert _reported(flagged, "DJS906", API_PROJECT) == ["DJS906"]
    assert _reported(corrected, "DJS906", API_PROJECT) == []
    assert _reported(flagged, "DJS906", RUNTIME) == []  # no settings module found: silent

    from django.contrib.auth.models import Group
    from rest_framework.test import APIRequestFactory

    def post(source: str, name: str) -> int:
        request = APIRequestFactory().post("/groups/", {"name": name}, format="json")
        return _load(source)["GroupCreate"].as_view()(request).status_code

    # The runtime settings leave DRF's default, AllowAny: an anonymous client writes.
    assert post(flagged, "djs906-open") == 201
    assert Group.objects.filter(name="djs906-open").exists()
    assert post(corrected, "djs906-closed") in (401, 403)
    assert not Group.objects.filter(name="djs906-closed").exists()
