"""A real Django with an in-memory SQLite database, configured once per test process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The DJS6xx fixture project: its app is installed, so its fixtures run as written.
FORUM = Path(__file__).parent.parent / "fixtures" / "projects" / "forum"


NEWSROOM = Path(__file__).parent.parent / "fixtures" / "projects" / "newsroom"


def setup_django() -> None:
    """Configure settings for the runtime apps under tests/runtime and create their tables."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    sys.path.insert(0, str(Path(__file__).parent))
    # The newsroom fixture project's app: its DJS501 fixture and fix snapshots run against it.
    sys.path.insert(0, str(NEWSROOM))
    sys.path.insert(0, str(FORUM))
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "validation_app",
            "loading_app",
            "desk",
            "forum",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()
    from django.apps import apps
    from django.db import connection

    with connection.schema_editor() as editor:
        for app in ("validation_app", "loading_app", "desk", "forum"):
            for model in apps.get_app_config(app).get_models():
                editor.create_model(model)


@contextmanager
def loading_rows(rows: int, body: str) -> Iterator[int]:
    """``rows`` articles of ``loading_app``, each with its own author and one to
    three of three tags, alone in their tables while the block runs. ``body`` is
    each article's text, formatted with its number (``{i}``)."""
    setup_django()
    from loading_app.models import Article, Author, Tag

    assert not Article.objects.exists(), "another test left articles behind"
    tags = [Tag.objects.create(name=f"tag{i}") for i in range(3)]
    for i in range(rows):
        author = Author.objects.create(name=f"author{i}")
        article = Article.objects.create(title=f"t{i}", body=body.format(i=i), author=author)
        article.tags.set(tags[: i % 3 + 1])
    try:
        yield rows
    finally:
        for model in (Article, Author, Tag):
            model.objects.all().delete()
