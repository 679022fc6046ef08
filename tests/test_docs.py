"""Documentation is generated from the rule classes and must not drift."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from flake8_django_safety.docs import REQUIRED, SECTIONS, RuleDoc
from flake8_django_safety.rule import registered_rules
from flake8_django_safety.settings import Settings, option_flag

ROOT = Path(__file__).resolve().parent.parent
CODES = list(registered_rules())


def _document_rules():
    spec = importlib.util.spec_from_file_location("document_rules", ROOT / "scripts" / "document_rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, content in _document_rules().expected_files().items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]
    assert not stale, f"run `python scripts/document_rules.py`: {stale}"


def test_every_page_belongs_to_a_rule() -> None:
    pages = {page.stem for page in (ROOT / "docs" / "rules").glob("*.md")}
    assert pages == set(CODES)


@pytest.mark.parametrize("code", CODES)
def test_docstring_sections(code: str) -> None:
    rule = registered_rules()[code]
    doc = RuleDoc.of(rule)
    assert list(doc.sections) == [s for s in SECTIONS if s in doc.sections], "section order"
    assert set(REQUIRED) <= set(doc.sections)
    assert ("Fix safety" in doc.sections) == (rule.fix_safety is not None)
    assert "docs.djangoproject.com" in doc.sections["References"]


@pytest.mark.parametrize("code", CODES)
def test_options_documented_as_used(code: str) -> None:
    rule = registered_rules()[code]
    documented = RuleDoc.of(rule).documented_options()
    assert documented == [option_flag(name)[2:] for name in rule.options]
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert set(rule.options) <= fields


def test_every_option_is_used_by_a_rule() -> None:
    used = {name for rule in registered_rules().values() for name in rule.options}
    assert used == {f.name for f in dataclasses.fields(Settings)}
