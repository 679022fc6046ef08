"""A real Django on a real PostgreSQL database, for code that SQLite cannot judge (row locks, concurrency).

Django settings can be configured only once per process, and the SQLite runtime tests
(tests/runtime/djangoenv.py) configure them in the pytest process. So ``setup_django_postgres`` is
meant for a process of its own: tests/test_postgres_claims.py starts the server in the pytest
process (tests/runtime/postgres.py) and runs each scenario in a fresh interpreter
(tests/runtime/pg_runner.py), which calls this first.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent


def setup_django_postgres(database: Mapping[str, str]) -> None:
    """Configure Django for ``database`` (a ``DATABASES`` entry) with pg_app installed; create missing tables.

    Tables are created only when missing, so every process of a session shares them: scenarios
    create the rows they use.
    """
    import django
    from django.conf import settings

    if settings.configured:
        raise RuntimeError(
            "Django settings are already configured in this process: run PostgreSQL code in its own "
            "process (see tests/runtime/pg_runner.py)"
        )
    if str(RUNTIME) not in sys.path:
        sys.path.insert(0, str(RUNTIME))
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "pg_app"],
        DATABASES={"default": {**database, "ATOMIC_REQUESTS": False}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()
    from django.apps import apps
    from django.db import connection

    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in apps.get_app_config("pg_app").get_models():
            if model._meta.db_table not in existing:
                editor.create_model(model)
