"""Every option changes what its rules report (not merely parsed)."""

from __future__ import annotations

import pytest

from flake8_django_safety.engine import Engine
from flake8_django_safety.rule import registered_rules
from flake8_django_safety.settings import Settings, option_dest, option_flag

DJS101 = registered_rules()["DJS101"]
DJS102 = registered_rules()["DJS102"]


def codes(source: str, settings: Settings, filename: str = "views.py") -> list[str]:
    engine = Engine([DJS101, DJS102], settings)
    return [v.code for v in engine.lint_text(source, filename)]


TOKEN = "def f(request, user):\n    return request.POST['x'] == user.token\n"
LAUNCH = "def f(request, user):\n    return request.POST['x'] == user.launch_code\n"
KIND = "def f(request, user):\n    return request.POST['token_flavour'] == user.token\n"
HASH = "import hashlib\n\ndef f(launch_code):\n    return hashlib.sha256(launch_code).hexdigest()\n"


def test_secret_words_replace_the_default() -> None:
    assert codes(TOKEN, Settings()) == ["DJS101"]
    replaced = Settings(secret_words=("launch_code",))
    assert codes(TOKEN, replaced) == []
    assert codes(LAUNCH, replaced) == ["DJS101"]
    assert codes(HASH, replaced) == ["DJS102"]


def test_extend_secret_words() -> None:
    assert codes(LAUNCH, Settings()) == []
    extended = Settings(extend_secret_words=("launch_code",))
    assert codes(LAUNCH, extended) == ["DJS101"]
    assert codes(TOKEN, extended) == ["DJS101"]


def test_metadata_words() -> None:
    assert codes(KIND, Settings()) == ["DJS101"]
    assert codes(KIND, Settings(extend_metadata_words=("flavour",))) == []
    typed = KIND.replace("token_flavour", "token_type")
    assert codes(typed, Settings()) == []
    assert codes(typed, Settings(metadata_words=())) == ["DJS101"]


@pytest.mark.parametrize("source", [TOKEN, HASH.replace("launch_code", "token")])
def test_test_patterns(source: str) -> None:
    assert codes(source, Settings(), "shop/tests/test_views.py") == []
    assert codes(source, Settings(test_patterns=()), "shop/tests/test_views.py")
    assert codes(source, Settings(test_patterns=("*_spec.py",)), "views_spec.py") == []


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("misago/threads/test.py", True),  # a test-helper module next to the code
        ("shop/tests/factories.py", True),
        ("shop/testing/utils.py", True),
        ("shop/test_views.py", True),
        ("shop/contest.py", False),
        ("shop/latest.py", False),
        ("shop/views.py", False),
    ],
)
def test_default_test_patterns(path: str, is_test: bool) -> None:
    assert Settings().is_test_file(path) is is_test


def test_from_mapping_accepts_flake8_spellings() -> None:
    settings = Settings.from_mapping(
        {"django-safety-extend-secret-words": "launch_code, pin_pad", "test_patterns": ""}
    )
    assert settings.extend_secret_words == ("launch_code", "pin_pad")
    assert settings.test_patterns == ()
    with pytest.raises(ValueError, match="unknown option"):
        Settings.from_mapping({"django-safety-nope": "x"})


WINDOW_FILTER = (
    "from django.db.models import F, Window\n"
    "from django.db.models.functions import Rank\n\n"
    "def podium(scores):\n"
    "    ranked = scores.annotate(rank=Window(Rank(), order_by=F('points').desc()))\n"
    "    return ranked.filter(rank__lte=3)\n"
)


@pytest.mark.parametrize(
    ("target", "reported"),
    [("", []), ("3.2", ["DJS602"]), ("4.1", ["DJS602"]), ("4.2", []), ("5.2", []), ("10.0", [])],
)
def test_django_target_version_decides_djs602(target: str, reported: list[str]) -> None:
    engine = Engine([registered_rules()["DJS602"]], Settings(django_target_version=target))
    assert [v.code for v in engine.lint_text(WINDOW_FILTER, "views.py")] == reported


@pytest.mark.parametrize(("text", "version"), [("4.1", (4, 1)), (" 3.2 ", (3, 2)), ("5.10", (5, 10)), ("", None)])
def test_django_target_version_is_major_minor(text: str, version: tuple[int, int] | None) -> None:
    assert Settings(django_target_version=text).target_version == version


@pytest.mark.parametrize("text", ["four", "4", "4.1.2", "v4.1", "4,1", "0.9"])
def test_invalid_django_target_version_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"--django-target-version: .* is not a Django version; give MAJOR\.MINOR"):
        Settings(django_target_version=text)


def test_django_target_version_keeps_its_plain_name() -> None:
    assert option_flag("django_target_version") == "--django-target-version"
    assert option_dest("django_target_version") == "django_target_version"
    assert option_flag("cache_dir") == "--django-safety-cache-dir"
    assert option_dest("cache_dir") == "django_safety_cache_dir"
    for key in ("django-target-version", "django_target_version"):
        assert Settings.from_mapping({key: "4.1"}).target_version == (4, 1)
