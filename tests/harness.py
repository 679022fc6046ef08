"""Fixture expectations: inline ``# expect:`` markers and ``# settings:`` headers.

A fixture line that should be reported ends with ``# expect: DJS101`` (codes
comma-separated, repeated for several reports on one line; ``DJS101:8`` pins
the 1-based column). Every other line must be clean. ``# missed: DJS101``
marks a known gap: the harness asserts the gap is still there, so closing it
forces the marker to be updated.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from flake8_django_safety.engine import Engine
from flake8_django_safety.rule import Rule, registered_rules
from flake8_django_safety.settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FIXTURES = Path(__file__).parent / "fixtures"
_MARKER = re.compile(r"#\s*(expect|missed):\s*([A-Z0-9:,\s]+?)\s*(?:#|$)")


@dataclass(frozen=True)
class Expected:
    reported: Counter[tuple[int, str]]
    columns: dict[tuple[int, str], set[int]]
    missed: Counter[tuple[int, str]]


def expectations(source: str) -> Expected:
    reported: Counter[tuple[int, str]] = Counter()
    columns: dict[tuple[int, str], set[int]] = {}
    missed: Counter[tuple[int, str]] = Counter()
    for number, line in enumerate(source.splitlines(), 1):
        for kind, codes in _MARKER.findall(line):
            for item in filter(None, (part.strip() for part in codes.split(","))):
                code, _, column = item.partition(":")
                target = reported if kind == "expect" else missed
                target[(number, code)] += 1
                if column:
                    columns.setdefault((number, code), set()).add(int(column))
    return Expected(reported, columns, missed)


def fixture_path(code: str) -> Path:
    """``tests/fixtures/DJS101.py``, or the file of that name inside a fixture project."""
    found = sorted(FIXTURES.rglob(f"{code}.py"))
    assert found, f"no fixture {code}.py under {FIXTURES}"
    return found[0]


def fixture_settings(source: str) -> Settings:
    """The fixture's ``# settings:`` table; fixtures live under tests/, so test
    modules are linted unless the table says otherwise, and nothing is cached on disk."""
    values: dict[str, object] = {"test_patterns": (), "cache_dir": "none"}
    first = source.split("\n", 1)[0]
    if first.startswith("# settings:"):
        table = tomllib.loads(f"settings = {first.removeprefix('# settings:').strip()}")
        values.update(table["settings"])
    return Settings.from_mapping(values)


def all_rules() -> list[type[Rule]]:
    return list(registered_rules().values())


def engine_for(source: str, rules: list[type[Rule]] | None = None) -> Engine:
    return Engine(rules if rules is not None else all_rules(), fixture_settings(source))
