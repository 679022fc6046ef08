"""What users touch outside Python: pre-commit hooks, the codemod, the example."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import yaml
from libcst.codemod import CodemodContext

from flake8_django_safety.codemod import DjangoSafetyFix
from flake8_django_safety.engine import Engine
from flake8_django_safety.rule import registered_rules

ROOT = Path(__file__).resolve().parent.parent
VIEWS = textwrap.dedent(
    """\
    def check(request, user):
        return request.GET["token"] == user.api_token
    """
)


def test_pre_commit_hooks_shape() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"flake8-django-safety", "flake8-django-safety-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["types"] == ["python"]
        assert {"id", "name", "entry", "description"} <= set(hook)
    assert hooks["flake8-django-safety"]["entry"] == "flake8 --select=DJS"
    assert hooks["flake8-django-safety-fix"]["entry"] == "flake8-django-safety fix"
    assert shutil.which("flake8-django-safety", path=str(Path(sys.executable).parent))


def test_codemod_applies_the_same_fix() -> None:
    engine = Engine(registered_rules().values())
    codemod = DjangoSafetyFix(CodemodContext(filename="views.py"), engine=engine)
    fixed = codemod.transform_module(cst.parse_module(VIEWS)).code
    assert fixed == (
        "from django.utils.crypto import constant_time_compare\n\n"
        "def check(request, user):\n"
        '    return constant_time_compare(request.GET["token"], user.api_token)\n'
    )


def test_codemod_through_libcst_tool(tmp_path: Path) -> None:
    (tmp_path / "views.py").write_text(VIEWS)
    (tmp_path / ".libcst.codemod.yaml").write_text(
        "generated_code_marker: '@generated'\nformatter: []\nblacklist_patterns: []\n"
        "modules:\n- 'flake8_django_safety'\nrepo_root: '.'\n"
    )
    completed = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "codemod.DjangoSafetyFix", ".", "--jobs=1", "--no-format"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "constant_time_compare(request.GET[\"token\"], user.api_token)" in (tmp_path / "views.py").read_text()


def test_example_project_shows_every_default_rule() -> None:
    # DJS602 speaks only when the project targets a Django release below 4.2.
    completed = subprocess.run(
        [sys.executable, "-m", "flake8", "--select=DJS", "--django-target-version=4.1", "examples/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    reported = {line.split()[1] for line in completed.stdout.splitlines()}
    assert reported == set(registered_rules())  # --select=DJS names the opt-in rules too

    by_default = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--django-target-version=4.1", "examples/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    codes = {line.split()[1] for line in by_default.stdout.splitlines()}
    djs = {code for code in codes if code.startswith("DJS")}
    assert djs == {code for code, rule in registered_rules().items() if rule.default_enabled}


def test_self_lint() -> None:
    """Our own code passes pyflakes and our own rules."""
    completed = subprocess.run(
        [sys.executable, "-m", "flake8", "--select=F,E9,DJS", "--exclude=tests/fixtures",
         "src", "scripts", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
