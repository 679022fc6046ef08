"""Project knowledge across files: roots, modules, classes, Django models."""

from flake8_django_safety.project.facts import ModuleFacts
from flake8_django_safety.project.index import ClassRef, ProjectIndex, find_root, index_for_file

__all__ = ["ClassRef", "ModuleFacts", "ProjectIndex", "find_root", "index_for_file"]
