"""DJS701's claim and fix checked with Django's own `migrate` on SQLite.

The fixture project `warehouse` is copied to a temporary folder (its numbered
migrations only; the rule fixtures next to them are no migrations), and each
`manage.py` command runs in a child process with its own database file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from harness import FIXTURES

from flake8_django_safety.engine import Engine, parse
from flake8_django_safety.fixer import fix_module
from flake8_django_safety.rule import registered_rules
from flake8_django_safety.settings import Settings

pytest.importorskip("django")

WAREHOUSE = FIXTURES / "projects" / "warehouse"
DATA_MIGRATION = "0004_backfill_notes.py"


def _copy_project(tmp_path: Path) -> Path:
    root = tmp_path / "warehouse"
    shutil.copytree(WAREHOUSE, root, ignore=shutil.ignore_patterns("DJS*.py", "__pycache__"))
    return root


def _manage(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WAREHOUSE_DB": str(root / "db.sqlite3"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _query(root: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(root / "db.sqlite3") as connection:
        return connection.execute(sql).fetchall()


def test_generated_migrations_match_the_models(tmp_path: Path) -> None:
    """The committed makemigrations output is what Django writes for these models."""
    root = _copy_project(tmp_path)
    completed = _manage(root, "makemigrations", "shop", "--check", "--dry-run")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_fixed_data_migration_migrates_forwards_and_backwards(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    assert _manage(root, "migrate", "shop", "0003").returncode == 0
    with sqlite3.connect(root / "db.sqlite3") as connection:
        connection.execute("INSERT INTO shop_customer (id, name) VALUES (1, 'ann')")
        connection.execute(
            "INSERT INTO shop_order (id, customer_id, reference, total, note, paid) "
            "VALUES (1, 1, 'r1', '0', '', 0)"
        )
    forwards = _manage(root, "migrate", "shop")
    assert forwards.returncode == 0, forwards.stderr
    assert _query(root, "SELECT name FROM shop_customer") == [("ANN",)]
    assert _query(root, "SELECT note FROM shop_order") == [("imported",)]

    # Before the fix: the data migration cannot be unapplied.
    backwards = _manage(root, "migrate", "shop", "zero")
    assert backwards.returncode != 0
    assert "IrreversibleError" in backwards.stderr
    assert _query(root, "SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name")[-1] == (
        "0004_backfill_notes",
    )

    path = root / "shop" / "migrations" / DATA_MIGRATION
    engine = Engine([registered_rules()["DJS701"]], Settings(cache_dir="none"))
    original = path.read_bytes()
    assert [v.code for v in engine.lint_text(original.decode(), str(path))] == ["DJS701", "DJS701"]
    result = fix_module(engine, parse(original), str(path), unsafe=True)
    assert result.applied == 2
    path.write_bytes(result.module.bytes)
    assert "migrations.RunPython(mark_imported, reverse_code=migrations.RunPython.noop)" in path.read_text()

    # After the fix: all the way back, forwards again, and back to just before it.
    for target in ("zero", None, "0003", None):
        completed = _manage(root, "migrate", "shop", *([target] if target else []))
        assert completed.returncode == 0, f"migrate shop {target or ''}: {completed.stderr}"
        tables = {name for (name,) in _query(root, "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert ("shop_order" in tables) == (target != "zero")
    applied = _query(root, "SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name")
    assert applied[-1] == ("0004_backfill_notes",) and len(applied) == 4
