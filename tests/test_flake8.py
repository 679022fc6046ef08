"""End to end through the real ``flake8`` executable: entry point, noqa,
selection, configuration files, DJS000 containment."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flake8_django_safety.flake8_plugin import Plugin

VIEWS = textwrap.dedent(
    """\
    import hashlib


    def check(request, user):
        if request.GET.get("token") == user.token:
            return True
        if request.POST["otp"] != user.otp:  # noqa: DJS101
            return False
        if request.POST["launch"] == user.launch_code:
            return True
        return hashlib.sha256(user.token.encode()).hexdigest()
    """
)


def flake8(project: Path, *args: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "flake8", *args, "views.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed.stdout.splitlines()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "views.py").write_text(VIEWS)
    (tmp_path / "setup.cfg").write_text(
        "[flake8]\ndjango-safety-extend-secret-words = launch_code\n"
    )
    return tmp_path


def test_reports_through_flake8_with_noqa_and_config(project: Path) -> None:
    assert flake8(project, "--select=DJS") == [
        "views.py:5:8: DJS101 Secret-like `request.GET.get(\"token\")` compared with `==` "
        "leaks timing; use `constant_time_compare()`",
        "views.py:9:8: DJS101 Secret-like `user.launch_code` compared with `==` leaks timing; "
        "use `constant_time_compare()`",
        "views.py:11:12: DJS102 Unkeyed `hashlib.sha256()` of secret-like `user.token` can be "
        "recomputed by anyone who obtains it; use `salted_hmac()`",
    ]


def test_default_selection_includes_our_codes(project: Path) -> None:
    codes = [line.split()[1] for line in flake8(project)]
    assert codes == ["DJS101", "DJS101", "DJS102"]


def test_select_ignore_and_extend_select(project: Path) -> None:
    assert flake8(project, "--select=E,F,W") == []
    assert [line.split()[1] for line in flake8(project, "--select=DJS102")] == ["DJS102"]
    assert [line.split()[1] for line in flake8(project, "--extend-ignore=DJS101")] == ["DJS102"]
    selected = flake8(project, "--select=E", "--extend-select=DJS101")
    assert [line.split()[1] for line in selected] == ["DJS101", "DJS101"]


def test_config_option_on_the_command_line_overrides(project: Path) -> None:
    lines = flake8(project, "--select=DJS101", "--django-safety-extend-secret-words=")
    assert len(lines) == 1


def test_syntax_error_yields_only_flake8s_own_report(tmp_path: Path) -> None:
    (tmp_path / "views.py").write_text("def f(token):\n    if token == x\n")
    lines = flake8(tmp_path)
    assert [line.split()[1] for line in lines] == ["E999"]


def test_no_work_when_none_of_our_codes_is_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    from flake8.options.parse_args import parse_args

    monkeypatch.setattr(Plugin, "engine", Plugin.engine)  # restored after the test
    _, options = parse_args(["--select=E,F,W"])
    Plugin.parse_options(options)
    assert Plugin.engine.rules == ()

    def fail(*args: object) -> None:  # pragma: no cover - must not be reached
        raise AssertionError("the engine ran although no DJS code is selected")

    monkeypatch.setattr(Plugin.engine, "lint_text", fail)
    plugin = Plugin(ast.parse(VIEWS), VIEWS.splitlines(True), "views.py")
    assert list(plugin.run()) == []

    _, options = parse_args(["--select=DJS101"])
    Plugin.parse_options(options)
    assert [rule.code for rule in Plugin.engine.rules] == ["DJS101"]


WINDOW_VIEWS = textwrap.dedent(
    """\
    from django.db.models import F, Window
    from django.db.models.functions import Rank


    def podium(scores):
        ranked = scores.annotate(rank=Window(Rank(), order_by=F("points").desc()))
        return ranked.filter(rank__lte=3)
    """
)


@pytest.fixture
def window_project(tmp_path: Path) -> Path:
    (tmp_path / "views.py").write_text(WINDOW_VIEWS)
    (tmp_path / "setup.cfg").write_text("[flake8]\n")
    return tmp_path


def test_django_target_version_from_the_command_line(window_project: Path) -> None:
    assert flake8(window_project, "--select=DJS") == []
    lines = flake8(window_project, "--select=DJS", "--django-target-version=4.1")
    assert [line.split()[1] for line in lines] == ["DJS602"]
    assert lines[0].startswith("views.py:7:26: DJS602 Filter on window annotation `rank`")
    assert flake8(window_project, "--select=DJS", "--django-target-version=4.2") == []


def test_django_target_version_from_setup_cfg(window_project: Path) -> None:
    (window_project / "setup.cfg").write_text("[flake8]\ndjango-target-version = 3.2\n")
    assert [line.split()[1] for line in flake8(window_project, "--select=DJS")] == ["DJS602"]
    # The command line overrides the file.
    assert flake8(window_project, "--select=DJS", "--django-target-version=5.2") == []


@pytest.mark.parametrize("where", ["command line", "setup.cfg"])
def test_invalid_django_target_version_is_an_error_without_traceback(window_project: Path, where: str) -> None:
    args = [sys.executable, "-m", "flake8", "--select=DJS", "views.py"]
    if where == "command line":
        args.append("--django-target-version=4.x")
    else:
        (window_project / "setup.cfg").write_text("[flake8]\ndjango-target-version = 4.x\n")
    completed = subprocess.run(args, cwd=window_project, capture_output=True, text=True, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "Traceback" not in output
    assert "--django-target-version: '4.x' is not a Django version; give MAJOR.MINOR, for example 4.1" in output
