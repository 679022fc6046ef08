"""DJS9xx decisions that depend on the project: settings read across modules,
the reusable-conditions option, silence when the settings are unknown."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flake8_django_safety.engine import Engine
from flake8_django_safety.project.facts import module_facts
from flake8_django_safety.rule import registered_rules
from flake8_django_safety.settings import Settings

VIEW = """
from rest_framework.views import APIView


class RefundView(APIView):
    def post(self, request):
        Refund.objects.create()
"""

GENERIC_VIEW = """
from rest_framework import generics


class RefundUpdate(generics.UpdateAPIView):
    queryset = None
"""

POLICY = """
from rest_access_policy import AccessPolicy


class ArticlePolicy(AccessPolicy):
    statements = [
        {"action": ["update"], "principal": ["authenticated"], "effect": "allow", "condition": ["is_fresh", "is_gone"]},
    ]
"""


def _project(tmp_path: Path, settings: str | None, extra: dict[str, str] | None = None) -> Path:
    (tmp_path / "manage.py").write_text('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_app.settings")\n')
    package = tmp_path / "site_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    if settings is not None:
        (package / "settings.py").write_text("SECRET_KEY = 'fixture'\n" + textwrap.dedent(settings))
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return package


def _codes(folder: Path, source: str, code: str, **options: object) -> list[int]:
    """Lines ``code`` reports on ``source`` linted as ``folder/views.py`` (or as
    ``folder`` when it names a module)."""
    settings = Settings.from_mapping({"cache_dir": "none", **options})
    engine = Engine([registered_rules()[code]], settings)
    filename = folder if folder.suffix == ".py" else folder / "views.py"
    return [v.line for v in engine.lint_text(source, str(filename)) if v.code == code]


@pytest.mark.parametrize(
    ("settings", "reported"),
    [
        ("SECRET_KEY = 'x'\n", True),
        ("REST_FRAMEWORK = {'PAGE_SIZE': 10}\n", True),
        ("REST_FRAMEWORK = {'DEFAULT_PERMISSION_CLASSES': ['rest_framework.permissions.AllowAny']}\n", True),
        ("REST_FRAMEWORK = {'DEFAULT_PERMISSION_CLASSES': []}\n", True),
        ("REST_FRAMEWORK = {'DEFAULT_PERMISSION_CLASSES': ('rest_framework.permissions.IsAuthenticated',)}\n", False),
        ("REST_FRAMEWORK = {}\nREST_FRAMEWORK['DEFAULT_PERMISSION_CLASSES'] = ['app.Strict']\n", False),
        ("REST_FRAMEWORK = {}\nREST_FRAMEWORK.update(LOCAL)\n", False),
        ("REST_FRAMEWORK = {**BASE}\n", False),
        ("REST_FRAMEWORK = {'DEFAULT_PERMISSION_CLASSES': PERMISSIONS}\n", False),
        ("from split_settings.tools import include\ninclude('components/*.py')\n", False),
        ("from .base import *\n", False),  # star-imports a module that is not there: unknown
        (None, False),  # no settings module: silent
    ],
)
def test_djs906_reads_the_default_permission_classes(tmp_path: Path, settings: str | None, reported: bool) -> None:
    package = _project(tmp_path, settings)
    assert bool(_codes(package, VIEW, "DJS906")) is reported


def test_djs906_follows_star_imports_of_the_settings(tmp_path: Path) -> None:
    package = _project(tmp_path, "from .base import *\n")
    (package / "base.py").write_text("REST_FRAMEWORK = {'DEFAULT_PERMISSION_CLASSES': ['x.IsAuthenticated']}\n")
    assert _codes(package, VIEW, "DJS906") == []
    open_default = tmp_path / "open"
    open_default.mkdir()
    package = _project(open_default, "from .base import *\n")
    (package / "base.py").write_text("REST_FRAMEWORK = {'PAGE_SIZE': 5}\n")
    assert _codes(package, VIEW, "DJS906") == [5]


@pytest.mark.parametrize(
    ("backends", "reported"),
    [
        ("['rest_framework.filters.SearchFilter', 'django_filters.rest_framework.DjangoFilterBackend']", True),
        ("[]", True),
        ("['rest_framework.filters.OrderingFilter', 'site_app.filters.OwnedByUser']", False),
        ("['guardian.filters.ObjectPermissionsFilter']", False),
        ("BACKENDS", False),  # computed: unknown
    ],
)
def test_djs906_reads_the_default_filter_backends(tmp_path: Path, backends: str, reported: bool) -> None:
    """A view that sets no ``filter_backends`` gets the settings' default, which may
    filter every queryset by user (ACLs)."""
    package = _project(tmp_path, f"REST_FRAMEWORK = {{'DEFAULT_FILTER_BACKENDS': {backends}}}\n")
    assert bool(_codes(package, GENERIC_VIEW, "DJS906")) is reported


@pytest.mark.parametrize("name", ["tests/settings.py", "settings_pkg/settings.py"])
def test_djs906_ignores_test_settings_and_modules_named_settings(tmp_path: Path, name: str) -> None:
    """Only a deployable settings module decides: a test project's settings, or a
    module named ``settings`` that binds no Django setting (an app, DRF's own
    ``rest_framework.settings``), does not."""
    (tmp_path / "setup.cfg").write_text("[flake8]\n")
    path = tmp_path / name
    path.parent.mkdir()
    (path.parent / "__init__.py").write_text("")
    path.write_text("SECRET_KEY = 'x'\n" if name.startswith("tests") else "api_settings = object()\n")
    assert _codes(tmp_path, VIEW, "DJS906") == []


def test_djs904_reusable_conditions_from_settings_and_option(tmp_path: Path) -> None:
    conditions = {"conds.py": "def is_fresh(request, view, action):\n    return True\n"}
    package = _project(tmp_path, "DRF_ACCESS_POLICY = {'reusable_conditions': 'conds'}\n", conditions)
    assert _codes(package, POLICY, "DJS904") == [7]  # is_gone only; is_fresh is in conds.py
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    package = _project(unknown, None, conditions)
    assert _codes(package, POLICY, "DJS904") == []  # no settings: the reusable conditions are unknown
    assert _codes(package, POLICY, "DJS904", reusable_conditions="conds") == [7]
    assert _codes(package, POLICY, "DJS904", reusable_conditions="conds,elsewhere.missing") == []


def test_settings_facts() -> None:
    facts = module_facts(
        "s",
        "REST_FRAMEWORK = {'DEFAULT_PERMISSION_CLASSES': ['a.B']}\n"
        "DRF_ACCESS_POLICY = {'reusable_conditions': ['x.c', 'y.d']}\n"
        "COPY = REST_FRAMEWORK['DEFAULT_PERMISSION_CLASSES']\n",
    )
    assert facts.settings == {
        "DEFAULT_PERMISSION_CLASSES": ("a.B",),
        "reusable_conditions": ("x.c", "y.d"),
        "DEFAULT_FILTER_BACKENDS": (),
    }
    assert module_facts("s", "DRF_ACCESS_POLICY = {}\nDRF_ACCESS_POLICY |= OTHER\n").settings == {
        "reusable_conditions": ...
    }


OWNER = """
from rest_framework.permissions import BasePermission


class IsOwner(BasePermission):
    def has_object_permission(self, request, view, obj):
        return obj.owner == request.user
"""

DOCUMENTS = """
from rest_framework.viewsets import ModelViewSet


class DocumentViewSet(ModelViewSet):
    queryset = None
"""


@pytest.mark.parametrize(
    ("default", "reported"),
    [
        ("['perms.IsOwner']", True),
        ("['rest_framework.permissions.AllowAny', 'perms.IsOwner']", True),
        ("['perms.IsOwner', 'rest_framework.permissions.IsAuthenticated']", False),
        ("['rest_framework.permissions.IsAuthenticated']", False),
        ("PERMISSIONS", False),
    ],
)
def test_djs901_reads_the_default_permission_classes(tmp_path: Path, default: str, reported: bool) -> None:
    """A view that sets no ``permission_classes`` gets the settings' default: an
    object-only class there alone leaves the view's list and create open."""
    _project(tmp_path, f"REST_FRAMEWORK = {{'DEFAULT_PERMISSION_CLASSES': {default}}}\n", {"documents.py": DOCUMENTS})
    assert bool(_codes(tmp_path / "perms.py", OWNER, "DJS901")) is reported


def test_djs901_follows_what_the_linted_texts_say(tmp_path: Path) -> None:
    """Uses are found in other modules but not in test modules, and found again
    when the text being linted (an editor's buffer) changes what it says."""
    _project(tmp_path, "SECRET_KEY = 'x'\n", {"perms.py": OWNER})
    alone = DOCUMENTS.replace("queryset = None", "permission_classes = [IsOwner]")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "test_views.py").write_text(textwrap.dedent("from perms import IsOwner\n" + alone))
    engine = Engine([registered_rules()["DJS901"]], Settings.from_mapping({"cache_dir": "none"}))
    perms = str(tmp_path / "perms.py")
    assert [v.line for v in engine.lint_text(OWNER, perms)] == []  # a test module's view does not count
    assert [v.line for v in engine.lint_text(OWNER + alone, perms)] == [6]
    combined = alone.replace("[IsOwner]", "[IsAuthenticated, IsOwner]").replace(
        "ModelViewSet\n", "ModelViewSet\nfrom rest_framework.permissions import IsAuthenticated\n", 1
    )
    assert [v.line for v in engine.lint_text(OWNER + combined, perms)] == []
    fresh = tmp_path / "fresh"  # another project (a new process would do the same): views.py counts
    fresh.mkdir()
    _project(fresh, "SECRET_KEY = 'x'\n", {"perms.py": OWNER, "views.py": "from perms import IsOwner\n" + alone})
    assert [v.line for v in engine.lint_text(OWNER, str(fresh / "perms.py"))] == [6]


def test_permission_facts() -> None:
    facts = module_facts(
        "m",
        "from rest_framework.decorators import api_view, permission_classes\n"
        "class V:\n"
        "    permission_classes = [IsAuthenticated, p.IsOwner | IsAdminUser, ~Banned, *EXTRA, Factory()]\n"
        "    http_method_names = ['get', 'post']\n"
        "class W:\n"
        "    permission_classes = Base.permission_classes + [X]\n"
        "@api_view(['GET', 'post'])\n"
        "@permission_classes((IsOwner,))\n"
        "def export(request):\n"
        "    pass\n"
        "@api_view()\n"
        "@permission_classes(PERMISSIONS)\n"
        "def show(request):\n"
        "    pass\n"
        "@api_view(['GET'])\n"
        "def plain(request):\n"
        "    pass\n",
    )
    view = facts.classes["V"]
    assert view.permission_classes == (
        "IsAuthenticated", ("|", "p.IsOwner", "IsAdminUser"), ("~", "Banned"), None, None
    )
    assert view.attributes["http_method_names"] == ("get", "post")
    assert facts.classes["W"].permission_classes is None and "permission_classes" in facts.classes["W"].attributes
    assert set(facts.function_views) == {"export", "show"}
    assert facts.function_views["export"].methods == ("GET", "POST")
    assert facts.function_views["export"].permission_classes == ("IsOwner",)
    assert facts.function_views["show"].methods == ("GET",)
    assert facts.function_views["show"].permission_classes is None
