"""The project index: roots, module names, re-exports, model facts, caches."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from flake8_django_safety.project.index import ProjectIndex, find_root

SHOP = Path(__file__).parent / "fixtures" / "projects" / "shop"


@pytest.fixture
def index() -> ProjectIndex:
    return ProjectIndex(SHOP.resolve())


def test_root_is_the_nearest_marked_folder(tmp_path: Path) -> None:
    assert find_root(SHOP / "orders" / "models" / "order.py") == SHOP.resolve()
    (tmp_path / "manage.py").write_text("")
    (tmp_path / "app").mkdir()
    assert find_root(tmp_path / "app" / "views.py") == tmp_path.resolve()


def test_module_names(index: ProjectIndex) -> None:
    assert index.module_name(SHOP / "orders" / "models" / "order.py") == "orders.models.order"
    assert index.module_name(SHOP / "orders" / "models" / "__init__.py") == "orders.models"
    assert index.module_name("/elsewhere/x.py") is None


def test_resolution_through_packages_and_reexports(index: ProjectIndex) -> None:
    assert index.resolve_class("orders.models.Order").qualname == "orders.models.order.Order"
    assert index.resolve_class("catalog.Product").qualname == "catalog.models.Product"
    assert index.resolve_class("django.db.models.Model") is None
    assert index.resolve_class("catalog.models.Missing") is None


def test_model_facts_across_apps(index: ProjectIndex) -> None:
    product = index.resolve_class("catalog.Product")
    assert index.is_model(product)
    assert index.validation_hooks(product) == ["clean()"]
    assert not index.validates_itself(product)
    coupon = index.resolve_class("catalog.models.Coupon")
    assert index.validation_hooks(coupon) == ["validators= on `percent`"]
    tag = index.resolve_class("catalog.models.Tag")
    assert index.is_model(tag) and index.validation_hooks(tag) == []
    invoice = index.resolve_class("catalog.models.Invoice")
    assert index.validates_itself(invoice)
    line = index.resolve_class("orders.models.OrderLine")
    order_field = next(f for f in line.facts.fields if f.name == "order")
    assert order_field.field_class == "django.db.models.ForeignKey"
    assert order_field.target == "orders.models.order.Order"
    assert order_field.related_name == "lines"


def test_disk_cache_is_keyed_by_content(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "app").mkdir(parents=True)
    (project / "setup.cfg").write_text("[flake8]\n")
    (project / "app" / "__init__.py").write_text("")
    models = project / "app" / "models.py"
    models.write_text("from django.db import models\n\nclass A(models.Model):\n    pass\n")
    cache = tmp_path / "cache"

    first = ProjectIndex(project, cache)
    assert first.validation_hooks(first.resolve_class("app.models.A")) == []
    entries = list(cache.rglob("*.pickle"))
    assert len(entries) == 1
    assert isinstance(pickle.loads(entries[0].read_bytes()).classes["A"].name, str)

    models.write_text(
        "from django.db import models\n\nclass A(models.Model):\n    def clean(self):\n        raise ValueError\n"
    )
    second = ProjectIndex(project, cache)  # a new run: the changed file is read again
    assert second.validation_hooks(second.resolve_class("app.models.A")) == ["clean()"]
    assert len(list(cache.rglob("*.pickle"))) == 2

    entries[0].write_bytes(b"not a pickle")
    models.write_text("from django.db import models\n\nclass A(models.Model):\n    pass\n")
    third = ProjectIndex(project, cache)  # a corrupt entry is rebuilt, not trusted
    assert third.validation_hooks(third.resolve_class("app.models.A")) == []


def test_unparsable_and_cyclic_modules(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / "broken.py").write_text("class A(:\n")
    (tmp_path / "cycle.py").write_text("from cycle import B as A\nfrom cycle import A as B\n")
    index = ProjectIndex(tmp_path)
    assert index.resolve_class("broken.A") is None
    assert index.resolve_class("cycle.A") is None


def _index(tmp_path: Path, models: str) -> ProjectIndex:
    (tmp_path / "app").mkdir()
    (tmp_path / "setup.cfg").write_text("[flake8]\n")
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "models.py").write_text(models)
    return ProjectIndex(tmp_path)


def test_hooks_know_what_they_read_and_whether_they_can_reject(tmp_path: Path) -> None:
    index = _index(
        tmp_path,
        "from django.db import models\n"
        "from django.core.exceptions import ValidationError\n"
        "from app.checks import check_route\n\n"
        "class Redirect(models.Model):\n"
        "    def clean(self):\n"
        "        super().clean()\n"
        "        self.path = self.path.lower()\n\n"
        "class Booking(models.Model):\n"
        "    def clean(self):\n"
        "        self._check_dates()\n"
        "        if self.duration > 10:\n"
        "            raise ValidationError('too long')\n\n"
        "    @property\n"
        "    def duration(self):\n"
        "        return self.ends - self.starts\n\n"
        "    def _check_dates(self):\n"
        "        if self.ends < self.starts:\n"
        "            raise ValidationError('ends first')\n\n"
        "    def move(self, days):\n"
        "        self._shift(days)\n\n"
        "    def _shift(self, days):\n"
        "        self.starts += days\n\n"
        "class Route(models.Model):\n"
        "    def clean(self):\n"
        "        check_route(self)\n",
    )
    redirect = index.resolve_class("app.models.Redirect")
    booking = index.resolve_class("app.models.Booking")
    route = index.resolve_class("app.models.Route")
    assert redirect is not None and booking is not None and route is not None
    assert index.hooks(redirect) == []  # only normalises: full_clean() rejects nothing
    assert not index.skips_validation(redirect)
    (hook,) = index.hooks(booking)
    assert hook.label == "clean()" and hook.reads == {"starts", "ends"}
    assert index.validation_hooks(booking, frozenset({"title"})) == []
    assert index.validation_hooks(booking, frozenset({"starts"})) == ["clean()"]
    assert index.writes(booking, "move") == {"starts"}
    assert index.writes(booking, "refresh_from_db") == frozenset()
    (opaque,) = index.hooks(route)
    assert opaque.reads is None  # self handed to another function: any field


def test_get_model_and_conditional_classes_resolve(tmp_path: Path) -> None:
    index = _index(
        tmp_path,
        "from django.db import models\n\n"
        "if not is_model_registered('app', 'Product'):\n"
        "    class Product(models.Model):\n"
        "        pass\n",
    )
    (tmp_path / "app" / "views.py").write_text(
        "from django.apps import apps\nProduct = apps.get_model('app', 'Product')\nMissing = apps.get_model('x', 'Y')\n"
    )
    ref = index.resolve_class("app.views.Product")
    assert ref is not None and ref.qualname == "app.models.Product"
    assert index.resolve_class("app.views.Missing") is None


def test_rollback_context_managers_are_recognised(tmp_path: Path) -> None:
    index = _index(tmp_path, "")
    (tmp_path / "app" / "db.py").write_text(
        "import contextlib\nfrom django.db import transaction\n\n"
        "@contextlib.contextmanager\n"
        "def rolledback():\n"
        "    with transaction.atomic():\n"
        "        yield\n"
        "        transaction.set_rollback(True)\n\n"
        "@contextlib.contextmanager\n"
        "def simulated():\n"
        "    try:\n"
        "        with transaction.atomic():\n"
        "            yield\n"
        "            raise Exception\n"
        "    except Exception:\n"
        "        pass\n\n"
        "@contextlib.contextmanager\n"
        "def kept():\n"
        "    with transaction.atomic():\n"
        "        yield\n"
    )
    (tmp_path / "app" / "helpers.py").write_text("from app.db import simulated as sandbox\n")
    assert index.rolls_back("app.db.rolledback")
    assert index.rolls_back("app.helpers.sandbox")
    assert not index.rolls_back("app.db.kept")


def test_settings_module_and_atomic_requests(tmp_path: Path) -> None:
    index = _index(tmp_path, "")
    (tmp_path / "manage.py").write_text('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")\n')
    (tmp_path / "site" / "settings").mkdir(parents=True)
    (tmp_path / "site" / "__init__.py").write_text("")
    (tmp_path / "site" / "settings" / "__init__.py").write_text("from .base import *\n")
    (tmp_path / "site" / "settings" / "base.py").write_text(
        'DATABASES = {"default": {"ENGINE": "x", "ATOMIC_REQUESTS": True}}\n'
    )
    assert index.settings_modules() == ["site.settings"]
    assert index.atomic_requests()

    other = tmp_path / "other"
    (other / "proj").mkdir(parents=True)
    (other / "setup.cfg").write_text("[flake8]\n")
    (other / "proj" / "__init__.py").write_text("")
    (other / "proj" / "settings.py").write_text('DATABASES = {"default": {"ENGINE": "x"}}\n')
    fallback = ProjectIndex(other)
    assert fallback.settings_modules() == ["proj.settings"]  # no DJANGO_SETTINGS_MODULE: the file
    assert not fallback.atomic_requests()
