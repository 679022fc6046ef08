"""The fix loop and the ``flake8-django-safety fix`` command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from flake8_django_safety.cli import main
from flake8_django_safety.engine import Engine, parse
from flake8_django_safety.fixer import fix_module
from flake8_django_safety.rule import Fix, ImportRequest, Rule, Safety, registered_rules

DJS101 = registered_rules()["DJS101"]

VULNERABLE = textwrap.dedent(
    """\
    def check(request, user):
        if request.GET.get("token") == user.api_token:
            return True
        return False
    """
)


def _fix(source: str, *, unsafe: bool = False, rules: list[type[Rule]] | None = None) -> str:
    engine = Engine(rules or [DJS101])
    return fix_module(engine, parse(source), "views.py", unsafe=unsafe).module.code


# -- imports --------------------------------------------------------------------


def test_fix_adds_the_import_once() -> None:
    source = VULNERABLE + "\n\ndef again(request, user):\n    return request.POST['token'] != user.api_token\n"
    fixed = _fix(source)
    assert fixed.count("from django.utils.crypto import constant_time_compare") == 1
    assert "if constant_time_compare(request.GET.get(\"token\"), user.api_token):" in fixed
    assert "return not constant_time_compare(request.POST['token'], user.api_token)" in fixed


def test_fix_reuses_an_alias() -> None:
    source = "from django.utils.crypto import constant_time_compare as ctc\n" + VULNERABLE
    fixed = _fix(source)
    assert "if ctc(request.GET.get(\"token\"), user.api_token):" in fixed
    assert fixed.count("import") == 1


def test_fix_reuses_a_module_import() -> None:
    source = "from django.utils import crypto\n" + VULNERABLE
    fixed = _fix(source)
    assert "if crypto.constant_time_compare(request.GET.get(\"token\"), user.api_token):" in fixed
    assert fixed.count("import") == 1


def test_fix_keeps_future_imports_first() -> None:
    source = '"""Views."""\nfrom __future__ import annotations\n\n' + VULNERABLE
    fixed = _fix(source)
    lines = fixed.splitlines()
    assert lines[:2] == ['"""Views."""', "from __future__ import annotations"]
    assert "from django.utils.crypto import constant_time_compare" in lines


def test_noqa_line_is_not_fixed() -> None:
    source = VULNERABLE.replace("== user.api_token:", "== user.api_token:  # noqa: DJS101")
    assert _fix(source) == source
    bare = VULNERABLE.replace("== user.api_token:", "== user.api_token:  # noqa")
    assert _fix(bare) == bare
    other = VULNERABLE.replace("== user.api_token:", "== user.api_token:  # noqa: E501")
    assert _fix(other) != other


# -- safety and overlap, with rules that exist only in this test ------------------


class _UnsafeUpper(Rule, register=False):
    """Upper-cases every string literal ``"x"`` (an unsafe fix)."""

    code = "DJS990"
    name = "test-unsafe"
    message = "literal"
    fix_safety = Safety.UNSAFE

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if node.value == '"x"':
            fix = Fix("Upper-case", Safety.UNSAFE, node, node.with_changes(value='"X"'))
            self.report(node, self.message, fix)


class _WrapCalls(Rule, register=False):
    """Wraps every call of ``f`` in ``g(...)`` (safe); nested calls overlap."""

    code = "DJS991"
    name = "test-wrap"
    message = "call"
    fix_safety = Safety.SAFE

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "f":
            replacement = cst.Call(func=cst.Name("g"), args=[cst.Arg(node)])
            fix = Fix("Wrap", Safety.SAFE, node, replacement, (ImportRequest("lib", "g"),))
            self.report(node, self.message, fix)


class _Explodes(Rule, register=False):
    code = "DJS992"
    name = "test-explodes"
    message = "never"

    def visit_Name(self, node: cst.Name) -> None:
        raise ZeroDivisionError("boom")


def test_unsafe_fixes_need_the_flag() -> None:
    engine = Engine([_UnsafeUpper])
    safe = fix_module(engine, parse('a = "x"\n'), "m.py")
    assert safe.module.code == 'a = "x"\n' and safe.unsafe_available == 1
    unsafe = fix_module(engine, parse('a = "x"\n'), "m.py", unsafe=True)
    assert unsafe.module.code == 'a = "X"\n' and unsafe.applied == 1


def test_overlapping_fixes_are_applied_over_passes() -> None:
    engine = Engine([_WrapCalls])
    result = fix_module(engine, parse("y = f(f(1))\n"), "m.py")
    # Each pass wraps the innermost unwrapped call; wrapped calls are found again
    # (this test rule is deliberately not idempotent), so the loop must stop.
    assert not result.converged
    assert result.module.code.startswith("from lib import g\n")
    parse(result.module.code)


def test_failing_rule_is_contained_as_djs000() -> None:
    violations = Engine([_Explodes, DJS101]).lint_text(VULNERABLE, "views.py")
    codes = [(v.code, v.line) for v in violations]
    assert ("DJS000", 1) in codes and ("DJS101", 2) in codes
    internal = next(v for v in violations if v.code == "DJS000")
    assert internal.message == "DJS992 failed on this file: ZeroDivisionError: boom"


# -- the command ------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.cfg").write_text("[flake8]\n")
    return tmp_path


def test_fix_writes_and_second_run_changes_nothing(project: Path, capsys) -> None:
    target = project / "views.py"
    target.write_text(VULNERABLE)
    target.chmod(0o640)
    assert main(["fix", str(target)]) == 0
    fixed = target.read_text()
    assert "constant_time_compare(request.GET.get(\"token\"), user.api_token)" in fixed
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert "Fixed 1 finding in 1 file" in capsys.readouterr().err
    assert main(["fix", str(target)]) == 0
    assert target.read_text() == fixed
    assert main(["fix", "--check", str(target)]) == 0
    assert [p.name for p in project.iterdir() if p.name.endswith(".tmp")] == []


def test_diff_writes_nothing_and_exits_1(project: Path, capsys) -> None:
    target = project / "views.py"
    target.write_text(VULNERABLE)
    assert main(["fix", "--diff", str(project)]) == 1
    out = capsys.readouterr().out
    assert '-    if request.GET.get("token") == user.api_token:' in out
    assert '+    if constant_time_compare(request.GET.get("token"), user.api_token):' in out
    assert target.read_text() == VULNERABLE


def test_check_exits_1_and_writes_nothing(project: Path, capsys) -> None:
    target = project / "views.py"
    target.write_text(VULNERABLE)
    assert main(["fix", "--check", str(target)]) == 1
    assert "would fix" in capsys.readouterr().out
    assert target.read_text() == VULNERABLE


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        (b"# -*- coding: latin-1 -*-\r\n", "latin-1"),
        (b"\xef\xbb\xbf", "utf-8"),
        (b"", "utf-8"),
    ],
    ids=["latin-1", "bom", "utf-8"],
)
def test_encoding_bom_and_crlf_are_kept(project: Path, header: bytes, encoding: str) -> None:
    body = "# café\r\n" + VULNERABLE.replace("\n", "\r\n")
    target = project / "views.py"
    target.write_bytes(header + body.encode(encoding))
    assert main(["fix", str(target)]) == 0
    data = target.read_bytes()
    assert data.startswith(header)
    text = data[len(header) :].decode(encoding)
    assert "# café" in text
    assert "constant_time_compare(" in text
    assert text.count("\r\n") == text.count("\n"), "a line ending changed"


def test_unparsable_file_is_left_alone(project: Path, capsys) -> None:
    broken = project / "broken.py"
    content = b"def f(token):\n    if token == x\n        pass\n"
    broken.write_bytes(content)
    undecodable = project / "binary.py"
    undecodable.write_bytes(b"x = '\xff\xfe token == a'\n")
    assert main(["fix", str(project)]) == 0
    assert broken.read_bytes() == content
    err = capsys.readouterr().err
    assert "broken.py: skipped, cannot parse" in err
    assert "binary.py: skipped, cannot parse" in err


def test_select_and_ignore(project: Path) -> None:
    target = project / "views.py"
    target.write_text(VULNERABLE)
    assert main(["fix", "--select=DJS102", str(target)]) == 0
    assert target.read_text() == VULNERABLE
    assert main(["fix", "--ignore=DJS1", str(target)]) == 0
    assert target.read_text() == VULNERABLE
    assert main(["fix", "--select=DJS1", str(target)]) == 0
    assert target.read_text() != VULNERABLE


def test_configuration_reaches_the_fixer(project: Path) -> None:
    (project / "setup.cfg").write_text("[flake8]\ndjango-safety-extend-secret-words = launch_code\n")
    target = project / "views.py"
    target.write_text("def go(request, user):\n    return request.POST['code'] == user.launch_code\n")
    assert main(["fix", str(target)]) == 0
    assert "constant_time_compare(request.POST['code'], user.launch_code)" in target.read_text()


WINDOW_FILTER = textwrap.dedent(
    """\
    from django.db.models import F, Window
    from django.db.models.functions import Rank


    def podium(scores):
        ranked = scores.annotate(rank=Window(Rank(), order_by=F("points").desc()))
        return ranked.filter(rank__lte=3)
    """
)


def test_django_target_version_reaches_the_fixer(project: Path, capsys) -> None:
    """DJS602 has no fix; the summary counts its finding only when the target
    version, from the command line or setup.cfg, is below 4.2."""
    target = project / "views.py"
    target.write_text(WINDOW_FILTER)
    assert main(["fix", "--select=DJS602", str(target)]) == 0
    assert "left without an automatic fix" not in capsys.readouterr().err
    assert main(["fix", "--select=DJS602", "--django-target-version=4.1", str(target)]) == 0
    assert "1 finding left without an automatic fix" in capsys.readouterr().err
    (project / "setup.cfg").write_text("[flake8]\ndjango-target-version = 3.2\n")
    assert main(["fix", "--select=DJS602", str(target)]) == 0
    assert "1 finding left without an automatic fix" in capsys.readouterr().err
    assert main(["fix", "--select=DJS602", "--django-target-version=5.2", str(target)]) == 0
    assert "left without an automatic fix" not in capsys.readouterr().err
    assert target.read_text() == WINDOW_FILTER


def test_django_target_version_reaches_the_codemod(project: Path) -> None:
    from flake8_django_safety.codemod import _configured_engine

    (project / "setup.cfg").write_text("[flake8]\ndjango-target-version = 4.1\n")
    engine = _configured_engine("DJS602", None)
    assert [v.code for v in engine.lint_text(WINDOW_FILTER, "views.py")] == ["DJS602"]
    (project / "setup.cfg").write_text("[flake8]\ndjango-target-version = latest\n")
    with pytest.raises(SystemExit, match="--django-target-version: 'latest' is not a Django version"):
        _configured_engine("DJS602", None)


def test_invalid_django_target_version_exits_2(project: Path, capsys) -> None:
    target = project / "views.py"
    target.write_text(WINDOW_FILTER)
    assert main(["fix", "--django-target-version=4", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--django-target-version: '4' is not a Django version; give MAJOR.MINOR" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(project: Path, capsys) -> None:
    assert main(["fix", "missing.py"]) == 2
    assert main(["explain", "DJS999"]) == 2
    with pytest.raises(SystemExit) as raised:
        main(["fix", "--bogus", "x.py"])
    assert raised.value.code == 2


def test_rules_and_explain(capsys) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["DJS101"] == ["timing-unsafe-secret-comparison", "on", "safe"]
    assert rows["DJS102"] == ["unkeyed-hash-of-secret", "on", "none"]
    assert main(["explain", "djs101"]) == 0
    assert capsys.readouterr().out.startswith("# DJS101 timing-unsafe-secret-comparison")
    assert main(["explain", "unkeyed-hash-of-secret"]) == 0


def test_console_script_runs(project: Path) -> None:
    (project / "views.py").write_text(VULNERABLE)
    script = Path(sys.executable).with_name("flake8-django-safety")
    completed = subprocess.run(
        [str(script), "fix", "--check", "."], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 1, completed.stderr
    assert "Would fix 1 finding in 1 file" in completed.stderr


def test_progress_is_reported_on_long_runs(project: Path, capsys) -> None:
    for index in range(60):
        (project / f"m{index}.py").write_text("x = 1\n")
    os.environ.pop("FORCE_COLOR", None)
    assert main(["fix", str(project)]) == 0
    assert "60 files checked" in capsys.readouterr().err
