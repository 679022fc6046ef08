"""The engine on hostile input, and the prefilter that keeps it cheap."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flake8_django_safety.engine import Engine, ParseFailure, parse
from flake8_django_safety.fixer import fix_module
from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.rule import registered_rules
from flake8_django_safety.settings import Settings

RULES = list(registered_rules().values())
DJS101 = registered_rules()["DJS101"]
DJS102 = registered_rules()["DJS102"]

HOSTILE = {
    "empty": b"",
    "bom-only": b"\xef\xbb\xbf",
    "nul-bytes": b"token == x\x00\n",
    "undecodable": b"x = '\xff\xfe'\nif token == a: pass\n",
    "python2": b"print 'token'\nif token <> other: pass\n",
    "unterminated": b"if token == '\n",
    "deep-nesting": b"x = " + b"(" * 5000 + b"token == a" + b")" * 5000 + b"\n",
    "long-chain": b"ok = " + b" == ".join(b"token%d" % i for i in range(3000)) + b"\n",
    "pep695-701-758": (
        b"type Pair[T] = tuple[T, T]\n"
        b"def f[T](request, user: T) -> bool:\n"
        b"    try:\n        pass\n    except ValueError, TypeError:\n        pass\n"
        b"    label = f'{'token' if token else ''}'\n"
        b"    return user.token == request.GET['token']\n"
    ),
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_never_raises(source: bytes) -> None:
    engine = Engine(RULES)
    text = source.decode("utf-8", errors="replace")
    violations = engine.lint_text(text, "views.py")
    assert not [v for v in violations if v.code == "DJS000"]
    try:
        module = parse(source)
    except ParseFailure:
        return
    result = fix_module(engine, module, "views.py")
    parse(result.module.bytes)


def test_new_syntax_is_linted_and_fixed() -> None:
    engine = Engine(RULES)
    module = parse(HOSTILE["pep695-701-758"])
    assert [v.code for v in engine.lint_module(module, "views.py")] == ["DJS101"]
    fixed = fix_module(engine, module, "views.py").module.code
    assert "return constant_time_compare(user.token, request.GET['token'])" in fixed


def test_parse_failure_is_silent() -> None:
    assert Engine(RULES).lint_text("if token == :\n", "views.py") == []


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        ("x = 1\n", False),
        ("if a == b:\n    pass\n# token\n", False),
        ("if a == token:\n    pass\n", True),
        ("if a != request.headers['X-Hub-Signature-256']:\n    pass\n", True),
        ("if a == request.headers['X-Api-Key']:\n    pass\n", True),
        ("expected = hmac.new(k, b, sha256).hexdigest()\nif a == expected: pass\n", True),
        ("provided = request.GET.get('token')\nif a == provided: pass\n", True),
        ("xprovided = request.GET.get('token')\nif a == provided: pass\n", False),
    ],
)
def test_djs101_prefilter(text: str, admitted: bool) -> None:
    assert DJS101.triggered_by(SourceText(text), Settings()) is admitted


def test_djs102_prefilter() -> None:
    settings = Settings()
    assert DJS102.triggered_by(SourceText("import hashlib\nhashlib.md5(token)\n"), settings)
    bound = "import hashlib\nraw = request.GET['pin']\nh = hashlib.sha1(raw)\n"
    assert DJS102.triggered_by(SourceText(bound), settings)
    assert not DJS102.triggered_by(SourceText("import hashlib\nhashlib.md5(content)\n"), settings)
    assert not DJS102.triggered_by(SourceText("digest = md5(token)\n"), settings)


def test_prefiltered_file_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    import flake8_django_safety.engine as engine_module

    def fail(source: object) -> None:  # pragma: no cover - must not be reached
        raise AssertionError("parsed a file no rule is triggered by")

    monkeypatch.setattr(engine_module, "parse", fail)
    assert Engine(RULES).lint_text("def f(a, b):\n    return a == b\n", "views.py") == []


def test_test_modules_are_skipped_and_configurable() -> None:
    source = "def f(request, user):\n    return request.POST['code'] == user.token\n"
    engine = Engine([DJS101])
    for name in ("tests/test_views.py", "app/tests/helpers.py", "test_api.py", "api_test.py",
                 "tests.py", "conftest.py"):
        assert engine.lint_text(source, name) == [], name
    assert engine.lint_text(source, "app/views.py")
    linting_tests = Engine([DJS101], Settings(test_patterns=()))
    assert linting_tests.lint_text(source, "tests/test_views.py")


def test_installed_django_and_drf_do_not_crash() -> None:
    """Every file of the installed Django and DRF: no DJS000, fixes parse."""
    django = pytest.importorskip("django")
    rest_framework = pytest.importorskip("rest_framework")
    engine = Engine(RULES)
    checked = 0
    for root in (Path(django.__file__).parent, Path(rest_framework.__file__).parent):
        for path in sorted(root.rglob("*.py")):
            data = path.read_bytes()
            text = data.decode("utf-8", errors="replace")
            violations = engine.lint_text(text, str(path))
            assert not [v for v in violations if v.code == "DJS000"], (path, violations)
            if any(v.fix for v in violations):
                fixed = fix_module(engine, parse(data), str(path)).module.bytes
                parse(fixed)
            checked += 1
    assert checked > 500, f"only {checked} files found under {sys.prefix}"


def test_djs202_prefilter_resolves_names_before_parsing() -> None:
    shop = Path(__file__).parent / "fixtures" / "projects" / "shop" / "orders" / "services.py"
    djs202 = registered_rules()["DJS202"]
    settings = Settings(cache_dir="none", test_patterns=())

    def admitted(source: str) -> bool:
        return djs202.triggered_by(SourceText(source, str(shop)), settings)

    assert admitted("from .models import Order\nOrder.objects.create(price=1)\n")
    assert admitted("import catalog.models\ncatalog.models.Product.objects.create()\n")
    assert admitted("from catalog.models import Coupon as V\nV.objects.using('x').acreate()\n")
    assert not admitted("from catalog.models import Tag\nTag.objects.create(name='x')\n")
    assert not admitted("from catalog.models import Invoice\nInvoice.objects.create()\n")
    assert not admitted("order.lines.create(quantity=1)\n")
    assert not admitted("from django.contrib.auth.models import User\nUser.objects.create()\n")


def test_loading_the_plugin_imports_neither_libcst_nor_astroid() -> None:
    """flake8 imports every installed plugin on every run: the rules and their
    shared helpers load libcst and the index (astroid) only when a file needs them."""
    import subprocess

    probe = (
        "import sys, flake8_django_safety.flake8_plugin, flake8_django_safety.rules\n"
        "print(sorted(name for name in ('libcst._nodes', 'astroid') if name in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]", completed.stdout
