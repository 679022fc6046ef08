"""Rules about the classes a module defines.

``ModuleClassRule`` visits the module-level classes, the ones the project index
has facts for; ``file_defines`` lets a prefilter decide on those facts (an
``ast`` parse, cached on disk) before libcst parses the file; ``body_statements``
reads a method body in source order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.rule import FileContext, Rule

if TYPE_CHECKING:
    import libcst

    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ProjectIndex
    from flake8_django_safety.project.facts import ClassFacts
    from flake8_django_safety.settings import Settings


class ModuleClassRule(Rule, register=False):
    """Visits the classes defined at module level: the ones the index has facts for."""

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self._depth = 0

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        # Test modules build permissions, policies and views to exercise them, broken ones included.
        return not settings.is_test_file(filename)

    def visit_ClassDef(self, node: libcst.ClassDef) -> None:
        self._depth += 1
        project, module_name = self.context.project, self.context.module_name
        if self._depth == 1 and node.bases and project is not None and module_name is not None:
            self.visit_module_class(node, project, f"{module_name}.{node.name.value}")

    def leave_ClassDef(self, original_node: libcst.ClassDef) -> None:
        self._depth -= 1

    def visit_FunctionDef(self, node: libcst.FunctionDef) -> None:
        self._depth += 1

    def leave_FunctionDef(self, original_node: libcst.FunctionDef) -> None:
        self._depth -= 1

    def visit_module_class(self, node: libcst.ClassDef, project: ProjectIndex, qualname: str) -> None:
        """Look at one module-level class with bases."""


def file_defines(
    text: SourceText, settings: Settings, wanted: Callable[[ProjectIndex, ClassFacts], bool]
) -> bool:
    """Some class of the file is ``wanted``, decided on the index's facts (an
    ``ast`` parse, cached on disk): prefilters use it before libcst parses."""
    if not text.filename:
        return False
    from flake8_django_safety.project import index_for_file

    project = index_for_file(text.filename, settings.index_cache_dir)
    facts = None if project is None else project.use_source(text.filename, text.text)
    return project is not None and facts is not None and any(wanted(project, item) for item in facts.classes.values())


def body_statements(block: libcst.BaseSuite) -> list[libcst.BaseSmallStatement]:
    """The small statements (assignments, ``return`` ...) of a function body in
    source order, through ``if`` / ``try`` / ``with`` / loop / ``match`` blocks,
    not into nested functions or classes."""
    found: list[libcst.BaseSmallStatement] = []
    blocks = (cst.BaseSuite, cst.BaseStatement, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally, cst.MatchCase)

    def visit(node: libcst.CSTNode) -> None:
        if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            found.extend(node.body)
        elif not isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            for child in node.children:
                if isinstance(child, blocks):
                    visit(child)

    visit(block)
    return found
