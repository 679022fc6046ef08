"""Transaction claims proven on a real PostgreSQL server: what the flagged code does, what the fix does.

Design: the session fixture ``postgres_database`` (tests/runtime/postgres.py) starts a throw-away
server in this pytest process. Each scenario then runs in a fresh interpreter
(tests/runtime/pg_runner.py, fed a JSON request on stdin) because Django settings can be configured
only once per process and tests/test_runtime_validation.py configures them for SQLite in this one.
The runner only executes the code and reports what happened as JSON; the assertions stay here.

The code under test is plain source text: FLAGGED_* is what the rule reports, and the fixed version
is what our fixer writes for it.

Without a usable PostgreSQL server these tests skip with the reason; with DJS_REQUIRE_POSTGRES=1
(as in .ci/run) they fail instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")

RUNTIME = Path(__file__).parent / "runtime"
RUNNER = RUNTIME / "pg_runner.py"
sys.path.insert(0, str(RUNTIME))

from postgres import postgres_database  # noqa: E402, F401 - session fixture, requested by name

from flake8_django_safety.engine import Engine, parse  # noqa: E402
from flake8_django_safety.fixer import fix_module  # noqa: E402
from flake8_django_safety.rule import registered_rules  # noqa: E402
from flake8_django_safety.settings import Settings  # noqa: E402

pytestmark = pytest.mark.slow

FLAGGED_SELECT_FOR_UPDATE = textwrap.dedent(
    """\
    from pg_app.models import Stock


    def reserve(name):
        return list(Stock.objects.select_for_update().filter(name=name))


    def reserve_view(request, name):
        return reserve(name)
    """
)

FLAGGED_READ_MODIFY_WRITE = textwrap.dedent(
    """\
    from pg_app.models import Stock


    def sell_one(pk):
        s = Stock.objects.get(pk=pk)
        s.quantity -= 1
        s.save()
    """
)

# Both threads finish reading before either writes: the interleaving that loses an update.
READ_READ_WRITE_WRITE = ["SELECT", "SELECT", "UPDATE", "UPDATE"]


def fixed(source: str, code: str) -> str:
    """What ``flake8-django-safety fix --unsafe-fixes`` writes for ``source``, which
    must be reported exactly once by ``code``."""
    engine = Engine(
        [registered_rules()[code]], Settings(cache_dir="none", test_patterns=(), atomic_requests="false")
    )
    filename = str(RUNTIME / "pg_services.py")
    assert [v.code for v in engine.lint_text(source, filename)] == [code]
    return fix_module(engine, parse(source), filename, unsafe=True).module.code


def run_scenario(database: dict[str, str], scenario: str, source: str, function: str) -> dict[str, Any]:
    """Run ``scenario`` of tests/runtime/pg_runner.py on ``source`` in a fresh interpreter."""
    request = {"database": database, "scenario": scenario, "source": source, "function": function}
    completed = subprocess.run(
        [sys.executable, str(RUNNER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"pg_runner failed:\n{completed.stderr}"
    return json.loads(completed.stdout)


def test_flagged_select_for_update_outside_transaction_raises(postgres_database) -> None:  # noqa: F811
    outcome = run_scenario(
        postgres_database, "call_in_autocommit", FLAGGED_SELECT_FOR_UPDATE, "reserve"
    )
    assert outcome["autocommit"] is True
    assert outcome["rows"] is None
    assert outcome["error"].startswith(
        "django.db.transaction.TransactionManagementError: select_for_update cannot be used outside of a transaction"
    )


def test_fixed_select_for_update_in_atomic_returns_the_rows(postgres_database) -> None:  # noqa: F811
    fixed_source = fixed(FLAGGED_SELECT_FOR_UPDATE, "DJS301")
    assert "@transaction.atomic\ndef reserve" in fixed_source
    outcome = run_scenario(postgres_database, "call_in_autocommit", fixed_source, "reserve")
    assert outcome["autocommit"] is True  # the caller is outside a transaction; the decorator opens one
    assert outcome["error"] is None
    assert outcome["rows"] == [outcome["row"]]


def test_flagged_read_modify_write_loses_an_update(postgres_database) -> None:  # noqa: F811
    outcome = run_scenario(postgres_database, "interleave_writes", FLAGGED_READ_MODIFY_WRITE, "sell_one")
    assert outcome["errors"] == []
    assert [verb for _, verb in outcome["statements"]] == READ_READ_WRITE_WRITE
    assert outcome["final"] == outcome["initial"] - 1  # two sales, one decrement


def test_fixed_f_expression_loses_no_update(postgres_database) -> None:  # noqa: F811
    fixed_source = fixed(FLAGGED_READ_MODIFY_WRITE, "DJS303")
    assert 's.quantity = F("quantity") - 1' in fixed_source
    outcome = run_scenario(postgres_database, "interleave_writes", fixed_source, "sell_one")
    assert outcome["errors"] == []
    assert [verb for _, verb in outcome["statements"]] == READ_READ_WRITE_WRITE
    assert outcome["final"] == outcome["initial"] - 2
