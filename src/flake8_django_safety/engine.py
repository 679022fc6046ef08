"""Run the enabled rules over one file: prefilter, one parse, one traversal.

The flake8 plugin, the fixer CLI and the libcst codemod all go through
:class:`Engine`; none of them knows anything about a particular rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from flake8_django_safety.imports import ImportTracker
from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.rule import FileContext, Finding, Rule, Violation
from flake8_django_safety.settings import Settings

INTERNAL_ERROR = "DJS000"


class ParseFailure(Exception):
    """The file cannot be parsed by libcst (syntax error, bad encoding, too deep)."""


def parse(source: str | bytes) -> cst.Module:
    """Parse ``source``; bytes keep their encoding, BOM and line endings."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise ParseFailure(f"syntax error at line {error.raw_line}: {error.message}") from None
    except (SyntaxError, UnicodeError, LookupError) as error:  # encoding problems
        raise ParseFailure(f"cannot decode: {error}") from None
    except (RecursionError, MemoryError):
        raise ParseFailure("too deeply nested to parse") from None
    except Exception as error:  # noqa: BLE001 - libcst's native parser raises plain errors
        raise ParseFailure(f"{type(error).__name__}: {error}") from None


class Engine:
    """The enabled rules and the settings they run with."""

    def __init__(self, rules: Iterable[type[Rule]], settings: Settings | None = None) -> None:
        self.rules: tuple[type[Rule], ...] = tuple(rules)
        self.settings = settings or Settings()

    def rules_for(self, filename: str, text: str) -> list[type[Rule]]:
        """The rules whose file scope and text triggers admit this file."""
        view = SourceText(text)
        return [
            rule
            for rule in self.rules
            if rule.applies_to_file(filename, self.settings)
            and rule.triggered_by(view, self.settings)
        ]

    def lint_text(self, text: str, filename: str) -> list[Violation]:
        """Lint source text; a file that does not parse yields nothing."""
        rules = self.rules_for(filename, text)
        if not rules:
            return []
        try:
            module = parse(text)
        except ParseFailure:
            return []
        return self.lint_module(module, filename, rules)

    def lint_module(
        self,
        module: cst.Module,
        filename: str,
        rules: Sequence[type[Rule]] | None = None,
    ) -> list[Violation]:
        """Run ``rules`` (default: those the prefilter admits) over a parsed module."""
        if rules is None:
            rules = self.rules_for(filename, module.code)
        if not rules:
            return []
        tracker = ImportTracker()
        context = FileContext(filename, module, self.settings, tracker)
        instances = [rule(context) for rule in rules]
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        try:
            wrapper.visit_batched([tracker, *instances])
        except (RecursionError, MemoryError) as error:
            return [Violation(INTERNAL_ERROR, f"traversal failed on this file: {error!r}", 1, 0)]
        violations: list[Violation] = []
        findings: list[Finding] = []
        for instance in instances:
            if instance.failure is not None:
                error = instance.failure
                message = f"{instance.code} failed on this file: {type(error).__name__}: {error}"
                violations.append(Violation(INTERNAL_ERROR, message, 1, 0))
            else:
                findings.extend(instance.findings)
        if findings:
            # Positions cost a full code generation: only files with findings pay it.
            positions = wrapper.resolve(PositionProvider)
            for finding in findings:
                start = positions[finding.node].start
                violations.append(
                    Violation(finding.code, finding.message, start.line, start.column, finding.fix)
                )
        violations.sort(key=lambda v: (v.line, v.column, v.code))
        return violations
