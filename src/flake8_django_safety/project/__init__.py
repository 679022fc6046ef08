"""Project knowledge across files: roots, modules, classes, Django models.

The names below load on first use: importing ``project.facts`` (the ``ast``
helpers some rules share) must not import the index and astroid with it, which
every flake8 run would otherwise pay whether a file needs the index or not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flake8_django_safety.project.facts import ModuleFacts
    from flake8_django_safety.project.index import ClassRef, ProjectIndex, find_root, index_for_file

__all__ = ["ClassRef", "ModuleFacts", "ProjectIndex", "find_root", "index_for_file"]

_HOMES = {
    "ModuleFacts": "flake8_django_safety.project.facts",
    "ClassRef": "flake8_django_safety.project.index",
    "ProjectIndex": "flake8_django_safety.project.index",
    "find_root": "flake8_django_safety.project.index",
    "index_for_file": "flake8_django_safety.project.index",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
