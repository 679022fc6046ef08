"""DJS2xx claims proven on a real database: the flagged code stores rows that
``full_clean()`` rejects; the code our fixer writes raises ``ValidationError``."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("django")

from flake8_django_safety.engine import Engine, parse  # noqa: E402
from flake8_django_safety.fixer import fix_module  # noqa: E402
from flake8_django_safety.rule import registered_rules  # noqa: E402
from flake8_django_safety.settings import Settings  # noqa: E402

RUNTIME = Path(__file__).parent / "runtime"
sys.path.insert(0, str(RUNTIME))

from djangoenv import setup_django  # noqa: E402

FLAGGED = textwrap.dedent(
    """\
    from validation_app.models import Coupon


    def issue_coupon(code, percent):
        coupon = Coupon.objects.create(code=code, percent=percent)
        return coupon
    """
)


@pytest.fixture(scope="module")
def coupon_model():
    setup_django()
    from validation_app.models import Coupon

    return Coupon


def _run(source: str, *args: object) -> object:
    namespace: dict[str, object] = {}
    exec(compile(source, "<fixture>", "exec"), namespace)  # noqa: S102 - our own fixture code
    return namespace["issue_coupon"](*args)  # type: ignore[operator]


def _fixed(source: str) -> str:
    engine = Engine([registered_rules()["DJS202"]], Settings(cache_dir="none", test_patterns=()))
    filename = str(RUNTIME / "services.py")  # inside the runtime project: models resolve
    violations = engine.lint_text(source, filename)
    assert [v.code for v in violations] == ["DJS202"]
    return fix_module(engine, parse(source), filename, unsafe=True).module.code


def test_flagged_create_stores_an_invalid_row(coupon_model) -> None:
    from django.core.exceptions import ValidationError

    coupon = _run(FLAGGED, "HALFOFF", 150)
    stored = coupon_model.objects.get(pk=coupon.pk)
    assert stored.percent == 150
    with pytest.raises(ValidationError):
        stored.full_clean()


def test_fixed_create_raises_and_stores_nothing(coupon_model) -> None:
    from django.core.exceptions import ValidationError

    fixed = _fixed(FLAGGED)
    assert "coupon.full_clean()" in fixed
    before = coupon_model.objects.count()
    with pytest.raises(ValidationError):
        _run(fixed, "TOOMUCH", 150)
    assert coupon_model.objects.count() == before
    valid = _run(fixed, "TENOFF", 10)
    assert coupon_model.objects.get(pk=valid.pk).percent == 10
