"""A real Django with an in-memory SQLite database, configured once per test process."""

from __future__ import annotations

import sys
from pathlib import Path


def setup_django() -> None:
    """Configure settings for the runtime apps under tests/runtime and create their tables."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    sys.path.insert(0, str(Path(__file__).parent))
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "validation_app",
            "loading_app",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        for app in ("validation_app", "loading_app"):
            for model in apps.get_app_config(app).get_models():
                editor.create_model(model)
