"""flake8-django-safety: Django-aware checks and fixes for flake8 and libcst."""

__version__ = "0.1.0"
