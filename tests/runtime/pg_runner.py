"""Run one PostgreSQL scenario in a fresh interpreter and print its outcome as JSON.

Usage: ``python tests/runtime/pg_runner.py < request.json``, where the request is
``{"database": <DATABASES entry>, "scenario": <name in SCENARIOS>, "source": <module code>,
"function": <name of the function in it to call>}``.

Why a process per scenario: Django settings can be configured only once per process and the
pytest process already configures them for SQLite (tests/runtime/djangoenv.py). The pytest side
(tests/test_postgres_claims.py) owns the server and the assertions; this side only configures
Django for PostgreSQL (tests/runtime/pgenv.py), creates the rows a scenario needs, runs the code
under test and reports what happened, so the code under test can be any source string (e.g. the
fixer's output).
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

from pgenv import setup_django_postgres

Outcome = dict[str, Any]
BARRIER_TIMEOUT = 30  # seconds; only reached if the code under test blocks a thread before it writes


def load_function(source: str, name: str) -> Callable[..., Any]:
    """Execute ``source`` as a module and return its function ``name``."""
    namespace: dict[str, Any] = {"__name__": "scenario"}
    exec(compile(source, "<scenario>", "exec"), namespace)  # noqa: S102 - the tests' own code
    return namespace[name]


def describe_error(error: BaseException) -> str:
    """``module.Class: message``, comparable across processes."""
    return f"{type(error).__module__}.{type(error).__qualname__}: {error}"


def call_in_autocommit(function: Callable[..., Any]) -> Outcome:
    """Call ``function(name)`` outside any transaction, for a fresh Stock row called ``name``.

    Reports the row, whether the connection was in autocommit mode, and either the error raised or
    the rows returned as ``[name, quantity]`` pairs.
    """
    from django.db import connection
    from pg_app.models import Stock

    row = Stock.objects.create(name=f"widget-{uuid.uuid4().hex}", quantity=3)
    outcome: Outcome = {
        "row": [row.name, row.quantity],
        "autocommit": connection.get_autocommit() and not connection.in_atomic_block,
        "error": None,
        "rows": None,
    }
    try:
        returned = function(row.name)
    except Exception as error:  # noqa: BLE001 - the error is the outcome
        outcome["error"] = describe_error(error)
    else:
        outcome["rows"] = [[stock.name, stock.quantity] for stock in returned]
    return outcome


def interleave_writes(function: Callable[..., Any]) -> Outcome:
    """Call ``function(pk)`` in two threads, both reading before either writes, on a fresh Stock row.

    Each thread uses its own connection (Django keeps one per thread) and waits at a shared barrier
    right before its first UPDATE, so the interleaving is fixed by the barrier, not by timing: read,
    read, write, write. Reports the initial and final quantity, the statements in the order they
    completed as ``[thread, verb]`` pairs, and the errors raised.
    """
    from django.db import connection
    from pg_app.models import Stock

    initial = 10
    pk = Stock.objects.create(name=f"widget-{uuid.uuid4().hex}", quantity=initial).pk
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    record_lock = threading.Lock()
    statements: list[list[Any]] = []
    errors: list[str] = []

    def worker(thread: int) -> None:
        waited = False

        def wait_before_first_update(
            execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
        ) -> Any:
            nonlocal waited
            verb = sql.lstrip().split(None, 1)[0].upper()
            if verb == "UPDATE" and not waited:
                waited = True
                barrier.wait()
            result = execute(sql, params, many, context)
            with record_lock:
                statements.append([thread, verb])
            return result

        try:
            with connection.execute_wrapper(wait_before_first_update):
                function(pk)
        except Exception as error:  # noqa: BLE001 - the error is the outcome
            with record_lock:
                errors.append(describe_error(error))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "initial": initial,
        "final": Stock.objects.get(pk=pk).quantity,
        "statements": statements,
        "errors": errors,
    }


SCENARIOS: dict[str, Callable[[Callable[..., Any]], Outcome]] = {
    "call_in_autocommit": call_in_autocommit,
    "interleave_writes": interleave_writes,
}


def main() -> None:
    """Read the request from stdin, run its scenario, print the outcome."""
    request = json.load(sys.stdin)
    setup_django_postgres(request["database"])
    from django.db import connections

    try:
        outcome = SCENARIOS[request["scenario"]](load_function(request["source"], request["function"]))
    finally:
        connections.close_all()
    json.dump(outcome, sys.stdout)


if __name__ == "__main__":
    main()
