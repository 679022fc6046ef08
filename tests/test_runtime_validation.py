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


def _run(source: str, *args: object, function: str = "issue_coupon") -> object:
    namespace: dict[str, object] = {}
    exec(compile(source, "<fixture>", "exec"), namespace)  # noqa: S102 - our own fixture code
    return namespace[function](*args)  # type: ignore[operator]


def _lint(source: str, code: str) -> list[str]:
    engine = Engine([registered_rules()[code]], Settings(cache_dir="none", test_patterns=()))
    filename = str(RUNTIME / "services.py")  # inside the runtime project: models resolve
    return [v.code for v in engine.lint_text(source, filename)]


def _fixed(source: str, code: str = "DJS202") -> str:
    engine = Engine([registered_rules()[code]], Settings(cache_dir="none", test_patterns=()))
    filename = str(RUNTIME / "services.py")
    assert _lint(source, code) == [code]
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


SAVE_FLAGGED = textwrap.dedent(
    """\
    from validation_app.models import Coupon


    def raise_discount(pk, percent):
        coupon = Coupon.objects.get(pk=pk)
        coupon.percent = percent
        coupon.save()
        return coupon
    """
)


def test_djs201_flagged_save_stores_and_fixed_save_raises(coupon_model) -> None:
    from django.core.exceptions import ValidationError

    coupon = coupon_model.objects.create(code="BASE", percent=10)
    _run(SAVE_FLAGGED, coupon.pk, 180, function="raise_discount")
    coupon.refresh_from_db()
    assert coupon.percent == 180
    with pytest.raises(ValidationError):
        coupon.full_clean()

    fixed = _fixed(SAVE_FLAGGED, "DJS201")
    coupon.percent = 10
    coupon.save()
    with pytest.raises(ValidationError):
        _run(fixed, coupon.pk, 180, function="raise_discount")
    coupon.refresh_from_db()
    assert coupon.percent == 10


SERIALIZER = textwrap.dedent(
    """\
    from rest_framework import serializers
    from validation_app.models import Coupon


    class CouponSerializer(serializers.ModelSerializer):
        class Meta:
            model = Coupon
            fields = ["code", "percent"]


    def issue_coupon(code, percent):
        serializer = CouponSerializer(data={"code": code, "percent": percent})
        serializer.is_valid(raise_exception=True)
        return serializer.save()
    """
)


def test_djs204_serializer_stores_what_clean_rejects(coupon_model) -> None:
    from django.core.exceptions import ValidationError

    assert _lint(SERIALIZER, "DJS204") == ["DJS204"]
    coupon = _run(SERIALIZER, "API", 250)  # is_valid() passed: clean() never ran
    assert coupon_model.objects.get(pk=coupon.pk).percent == 250
    with pytest.raises(ValidationError):
        coupon.full_clean()

    corrected = SERIALIZER.replace(
        '        fields = ["code", "percent"]\n',
        '        fields = ["code", "percent"]\n\n'
        "    def validate(self, attrs):\n"
        "        from django.core.exceptions import ValidationError\n"
        "        try:\n"
        "            Coupon(**attrs).clean()\n"
        "        except ValidationError as error:\n"
        "            raise serializers.ValidationError(error.message_dict)\n"
        "        return attrs\n",
    )
    assert corrected != SERIALIZER
    assert _lint(corrected, "DJS204") == []
    from rest_framework.exceptions import ValidationError as ApiValidationError

    with pytest.raises(ApiValidationError):
        _run(corrected, "API2", 250)
