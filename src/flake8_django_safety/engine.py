"""Run the enabled rules over one file: prefilter, one parse, one traversal.

The flake8 plugin, the fixer CLI and the libcst codemod all go through
:class:`Engine`; none of them knows anything about a particular rule.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Sequence

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flake8_django_safety._lazy import cst
from flake8_django_safety.imports import ImportTracker
from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.rule import FileContext, Finding, Rule, Violation, Visitor

if TYPE_CHECKING:
    from libcst.metadata import MetadataWrapper
from flake8_django_safety.settings import Settings

INTERNAL_ERROR = "DJS000"


class ParseFailure(Exception):
    """The file cannot be parsed by libcst (syntax error, bad encoding, too deep)."""


def parse(source: str | bytes, *, checked: bool = False) -> cst.Module:
    """Parse ``source``; bytes keep their encoding, BOM and line endings.

    libcst's native parser overflows the C stack (the process dies) on a few
    thousand nested brackets or operators. CPython's own parser rejects such
    input safely, so ``checked=True`` (flake8 has already compiled the file)
    parses directly; otherwise input CPython rejects — newer syntax or garbage —
    is first tried by libcst in a child process.
    """
    if not checked and not _python_accepts(source) and not _libcst_survives(source):
        raise ParseFailure("too deeply nested or not Python")
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


def _python_accepts(source: str | bytes) -> bool:
    try:
        ast.parse(source)
    except Exception:  # noqa: BLE001 - SyntaxError, RecursionError, MemoryError, ValueError
        return False
    return True


_PROBE = "import sys, libcst; libcst.parse_module(sys.stdin.buffer.read())"


def _libcst_survives(source: str | bytes) -> bool:
    """Parse in a child process: a crash there costs a file, not the run."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _PROBE],
            input=data,
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return completed.returncode == 0 or b"Traceback" in completed.stderr


@lru_cache(maxsize=1)
def _adapter_class() -> type[Any]:
    class Adapter(cst.BatchableCSTVisitor):  # type: ignore[misc, name-defined]
        """Presents one of our visitors to libcst's batched traversal."""

        def __init__(self, visitor: Visitor) -> None:
            super().__init__()
            self.visitor = visitor

        def get_visitors(self) -> dict[str, Any]:
            return self.visitor.visitors()

    return Adapter


def _batchable(visitor: Visitor) -> Any:
    return _adapter_class()(visitor)


class Engine:
    """The enabled rules and the settings they run with."""

    def __init__(self, rules: Iterable[type[Rule]], settings: Settings | None = None) -> None:
        self.rules: tuple[type[Rule], ...] = tuple(rules)
        self.settings = settings or Settings()

    def rules_for(self, filename: str, text: str) -> list[type[Rule]]:
        """The rules whose file scope and text triggers admit this file."""
        view = SourceText(text, filename)
        return [
            rule
            for rule in self.rules
            if rule.applies_to_file(filename, self.settings)
            and rule.triggered_by(view, self.settings)
        ]

    def lint_text(self, text: str, filename: str, *, checked: bool = False) -> list[Violation]:
        """Lint source text; a file that does not parse yields nothing.

        ``checked``: CPython has already parsed this text (flake8 has).
        """
        rules = self.rules_for(filename, text)
        if not rules:
            return []
        try:
            module = parse(text, checked=checked)
        except ParseFailure:
            return []
        return self.lint_module(module, filename, rules, source=text)

    def lint_module(
        self,
        module: cst.Module,
        filename: str,
        rules: Sequence[type[Rule]] | None = None,
        *,
        source: str | None = None,
    ) -> list[Violation]:
        """Run ``rules`` (default: those the prefilter admits) over a parsed module."""
        if rules is None:
            rules = self.rules_for(filename, module.code)
        if not rules:
            return []
        tracker = ImportTracker()
        context = FileContext(filename, module, self.settings, tracker, source)
        instances = [rule(context) for rule in rules]
        from libcst.metadata import MetadataWrapper

        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        try:
            return self._run(wrapper, tracker, instances)
        except RecursionError:
            # Too deep for libcst's recursive visitors: like a parse failure, silence.
            return []

    def _run(
        self, wrapper: MetadataWrapper, tracker: ImportTracker, instances: list[Rule]
    ) -> list[Violation]:
        wrapper.visit_batched([_batchable(visitor) for visitor in (tracker, *instances)])
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
            from libcst.metadata import PositionProvider

            positions = wrapper.resolve(PositionProvider)
            for finding in findings:
                start = positions[finding.node].start
                violations.append(
                    Violation(finding.code, finding.message, start.line, start.column, finding.fix)
                )
        violations.sort(key=lambda v: (v.line, v.column, v.code))
        return violations
