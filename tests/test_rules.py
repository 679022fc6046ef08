"""Every rule against its fixture: reports where marked, silence everywhere else,
and fix snapshots that parse and are stable."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from harness import FIXTURES, all_rules, engine_for, expectations, fixture_path

from flake8_django_safety.docs import RuleDoc
from flake8_django_safety.engine import Engine, parse
from flake8_django_safety.fixer import admissible_fixes, fix_module
from flake8_django_safety.rule import Rule, Safety, registered_rules
from flake8_django_safety.settings import Settings

CODES = list(registered_rules())


def _fixture(code: str) -> str:
    return fixture_path(code).read_text()


@pytest.mark.parametrize("code", CODES)
def test_fixture_reports_exactly_the_marked_lines(code: str) -> None:
    source = _fixture(code)
    expected = expectations(source)
    assert expected.reported, f"{code}.py marks no report: the fixture proves nothing"
    violations = engine_for(source).lint_text(source, str(fixture_path(code)))
    got = Counter((v.line, v.code) for v in violations)
    assert not [v for v in violations if v.code == "DJS000"], violations

    missing = expected.reported - got
    extra = got - expected.reported
    assert not missing, f"not reported: {sorted(missing)}"
    assert not extra, f"reported on lines not marked: {sorted(extra)}"
    for (line, rule_code), columns in expected.columns.items():
        found = {v.column + 1 for v in violations if (v.line, v.code) == (line, rule_code)}
        assert columns <= found, f"line {line}: {rule_code} at columns {found}, expected {columns}"
    still_missed = expected.missed - got
    assert still_missed == expected.missed, "a '# missed:' gap is now reported: update the marker"


def _snapshot_cases() -> list[tuple[str, Safety]]:
    cases = []
    for code, rule in registered_rules().items():
        if rule.fix_safety is Safety.SAFE:
            cases.append((code, Safety.SAFE))
        if rule.fix_safety is Safety.UNSAFE or rule.sometimes_unsafe:
            cases.append((code, Safety.UNSAFE))
    return cases


@pytest.mark.parametrize(
    ("code", "safety"),
    _snapshot_cases(),
    ids=[f"{c}-{s.value}" for c, s in _snapshot_cases()],
)
def test_fix_snapshot(code: str, safety: Safety, update_snapshots: bool) -> None:
    rule = registered_rules()[code]
    source = _fixture(code)
    engine = engine_for(source, [rule])
    unsafe = safety is Safety.UNSAFE
    path = fixture_path(code)
    result = fix_module(engine, parse(source), str(path), unsafe=unsafe)
    fixed = result.module.code
    snapshot = path.with_name(f"{code}{'.unsafe' if unsafe else ''}.fixed.py")
    if update_snapshots:
        snapshot.write_text(fixed)
    assert snapshot.exists(), f"missing {snapshot.name}: run pytest --update-snapshots"
    assert fixed == snapshot.read_text()
    assert result.applied > 0, "the snapshot shows no fix at all"
    assert result.converged

    again = parse(fixed)
    violations = engine.lint_module(again, str(path))
    assert not list(admissible_fixes(violations, fixed, unsafe)), "fixable findings remain"
    second = fix_module(engine, again, str(path), unsafe=unsafe)
    assert second.module.code == fixed and second.applied == 0


@pytest.fixture(scope="module")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new Django project with default settings, where documented examples are linted."""
    root = tmp_path_factory.mktemp("example_project")
    (root / "manage.py").write_text('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_app.settings")\n')
    (root / "site_app").mkdir()
    (root / "site_app" / "__init__.py").write_text("")
    (root / "site_app" / "settings.py").write_text(
        'SECRET_KEY = "example"\nINSTALLED_APPS = ["rest_framework"]\nROOT_URLCONF = "site_app.urls"\n'
    )
    return root


#: Where the examples of a rule that only looks at migrations are linted: a new
#: migration of the fixture project (the file need not exist; its package does).
MIGRATION_EXAMPLE = FIXTURES / "projects" / "warehouse" / "shop" / "migrations" / "0099_example.py"


@pytest.mark.parametrize("code", CODES)
def test_docstring_examples(code: str, default_project: Path) -> None:
    rule = registered_rules()[code]
    doc = RuleDoc.of(rule)
    # A target version old enough for every rule that depends on it (DJS602).
    engine = Engine(all_rules(), Settings(cache_dir="none", django_target_version="4.1"))
    filename = str(default_project / "views.py")
    if not rule.applies_to_file(filename, engine.settings):
        filename = str(MIGRATION_EXAMPLE)
        assert rule.applies_to_file(filename, engine.settings), f"{code} looks at neither views nor migrations"
    examples = doc.code_blocks("Example")
    assert examples, f"{code} has no Example"
    for example in examples:
        codes = {v.code for v in engine.lint_text(example, filename)}
        assert codes == {code}, f"Example reports {codes or 'nothing'}"
    for better in doc.code_blocks("Use instead"):
        assert engine.lint_text(better, filename) == []


@pytest.mark.parametrize("code", CODES)
def test_rule_attributes(code: str) -> None:
    rule: type[Rule] = registered_rules()[code]
    assert rule.name == rule.name.lower() and " " not in rule.name
    assert not rule.name.startswith(("no-", "avoid-"))
    assert rule.message[0].isupper() and not rule.message.endswith(".")
    camel = "".join(part.capitalize() for part in rule.name.split("-"))
    assert rule.__name__.lower() == camel.lower()
    assert rule.__module__.rsplit(".", 1)[-1] == rule.name.replace("-", "_")


def test_views_under_atomic_requests_read_from_the_project_settings() -> None:
    """bank/settings.py (found through manage.py) turns ATOMIC_REQUESTS on: views
    are covered, helpers and ``non_atomic_requests`` views are not."""
    path = fixture_path("DJS301").parent / "projects" / "bank" / "ledger" / "views.py"
    source = path.read_text()
    expected = expectations(source)
    assert expected.reported, "views.py marks no report: the test proves nothing"
    rules = [registered_rules()["DJS301"], registered_rules()["DJS302"]]
    violations = engine_for(source, rules).lint_text(source, str(path))
    assert Counter((v.line, v.code) for v in violations) == expected.reported


def test_djs303_reads_the_callers_across_the_project() -> None:
    """A counter bumped on ``self`` or a parameter is silent when every project
    call hands in a row locked first in the same ``atomic()`` block, or turns off
    the flag around the bump (tests/fixtures/projects/counters/README.md)."""
    package = FIXTURES / "projects" / "counters" / "counters"
    rule = registered_rules()["DJS303"]
    for name in ("models.py", "services.py"):
        path = package / name
        source = path.read_text()
        expected = expectations(source)
        assert expected.reported, f"{name} marks no report: the test proves nothing"
        violations = engine_for(source, [rule]).lint_text(source, str(path))
        assert Counter((v.line, v.code) for v in violations) == expected.reported, name
