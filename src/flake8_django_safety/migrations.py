"""What the migration rules (DJS7xx) share: which files are migrations, and which
calls are the ``RunPython`` / ``RunSQL`` operations.

A migration is a module in a package folder named ``migrations`` that defines
``class Migration`` at module level; that is what Django's migration loader
imports. The folder test and the ``class Migration`` text test run before any
parse, so every other file costs the rules nothing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.rule import Rule

if TYPE_CHECKING:
    from flake8_django_safety.imports import ImportTracker
    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.settings import Settings

#: Where Django defines the operations, and the modules that re-export them.
_OPERATION_MODULES = frozenset(
    {"django.db.migrations", "django.db.migrations.operations", "django.db.migrations.operations.special"}
)
#: Each data operation's reverse argument: its keyword; it is also the second positional argument.
REVERSE_ARGUMENT = {"RunPython": "reverse_code", "RunSQL": "reverse_sql"}


def is_migration_package_file(filename: str, settings: Settings) -> bool:
    """A module in a ``migrations`` folder that is a package (has ``__init__.py``)."""
    if not settings.is_migration_file(filename):
        return False
    return os.path.isfile(os.path.join(os.path.dirname(filename), "__init__.py"))


def data_operation(call: cst.Call, imports: ImportTracker) -> str | None:
    """``"RunPython"`` or ``"RunSQL"`` when ``call`` builds that operation, else None."""
    qualified = imports.qualify(call.func)
    if qualified is None:
        return None
    module, _, name = qualified.rpartition(".")
    return name if name in REVERSE_ARGUMENT and module in _OPERATION_MODULES else None


def argument(call: cst.Call, position: int | None, keyword: str) -> cst.Arg | None:
    """The argument passed as ``keyword`` or (when given) at positional index ``position``."""
    positional = 0
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg
        elif not arg.star:
            if positional == position:
                return arg
            positional += 1
    return None


def has_unpacking(call: cst.Call) -> bool:
    """``*args`` / ``**kwargs``: which arguments the call gets is unknown."""
    return any(arg.star for arg in call.args)


class MigrationRule(Rule):
    """A rule that looks only at migration modules (not registered itself: no code)."""

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return is_migration_package_file(filename, settings)

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return "class Migration" in text.text

    def visit_Module(self, node: cst.Module) -> None:
        #: Whether Django's loader would import this module as a migration.
        self.is_migration = any(
            isinstance(statement, cst.ClassDef) and statement.name.value == "Migration" for statement in node.body
        )


class DataOperationRule(MigrationRule):
    """A migration rule about the ``RunPython`` / ``RunSQL`` calls of a migration."""

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        return ("RunPython" in text.text or "RunSQL" in text.text) and super().triggered_by(text, settings)

    def visit_Call(self, node: cst.Call) -> None:
        if not self.is_migration or has_unpacking(node):
            return
        operation = data_operation(node, self.context.imports)
        if operation is not None:
            self.check_operation(node, operation)

    def check_operation(self, call: cst.Call, operation: str) -> None:
        """Report on one ``RunPython`` / ``RunSQL`` call (``operation`` says which)."""
        raise NotImplementedError
