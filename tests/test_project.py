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
        "from django.db import models\n\nclass A(models.Model):\n    def clean(self):\n        pass\n"
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
