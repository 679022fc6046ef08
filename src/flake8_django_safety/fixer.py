"""Apply the rules' fixes to a module until nothing changes.

Used by the ``fix`` command and by the libcst codemod, so both produce the same
output. Imports are added by libcst's ``AddImportsVisitor``, which reuses
existing imports and never duplicates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst
from flake8.defaults import NOQA_INLINE_REGEXP
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from flake8_django_safety.engine import Engine, ParseFailure, parse
from flake8_django_safety.rule import Fix, Safety, Violation

#: Passes before the fixer gives up on reaching a fixed point.
MAX_PASSES = 10


@dataclass(frozen=True)
class FixResult:
    """The outcome of fixing one module."""

    module: cst.Module
    applied: int
    #: Fixable findings left because they need ``--unsafe-fixes``.
    unsafe_available: int
    #: Findings that remain after fixing (with or without a fix).
    remaining: tuple[Violation, ...]
    converged: bool = True

    @property
    def changed(self) -> bool:
        return self.applied > 0


def fix_module(
    engine: Engine,
    module: cst.Module,
    filename: str,
    *,
    unsafe: bool = False,
) -> FixResult:
    """Apply every admissible fix, re-linting after each pass, at most ``MAX_PASSES`` times.

    A fix is admissible when its safety is allowed, its line carries no ``# noqa``
    for its code, and it does not overlap another fix of the same pass (the
    inner one wins; the outer one is found again on the next pass). Raises
    :class:`ParseFailure` if a pass produced code that does not parse, which
    would be a bug in a rule: the caller must then leave the file untouched.
    """
    applied = 0
    for _ in range(MAX_PASSES):
        violations = engine.lint_module(module, filename)
        fixes = [fix for fix in admissible_fixes(violations, module.code, unsafe)]
        if not fixes:
            return _result(module, applied, violations)
        module, count = apply_fixes(module, fixes)
        if count == 0:
            return _result(module, applied, violations)
        applied += count
        module = parse(module.bytes)
    violations = engine.lint_module(module, filename)
    return FixResult(
        module,
        applied,
        _count_unsafe(violations, module.code),
        tuple(violations),
        converged=not list(admissible_fixes(violations, module.code, unsafe)),
    )


def _result(module: cst.Module, applied: int, violations: list[Violation]) -> FixResult:
    return FixResult(module, applied, _count_unsafe(violations, module.code), tuple(violations))


def _count_unsafe(violations: Iterable[Violation], code: str) -> int:
    lines = code.splitlines()
    return sum(
        1
        for violation in violations
        if violation.fix is not None
        and violation.fix.safety is Safety.UNSAFE
        and not is_noqa(lines, violation)
    )


def admissible_fixes(violations: Iterable[Violation], code: str, unsafe: bool) -> Iterable[Fix]:
    """The fixes of ``violations`` that this run may apply."""
    lines = code.splitlines()
    for violation in violations:
        fix = violation.fix
        if fix is None or (fix.safety is Safety.UNSAFE and not unsafe):
            continue
        if is_noqa(lines, violation):
            continue
        yield fix


def is_noqa(lines: list[str], violation: Violation) -> bool:
    """flake8's own ``# noqa`` semantics, applied to the finding's line."""
    if not 0 < violation.line <= len(lines):
        return False
    match = NOQA_INLINE_REGEXP.search(lines[violation.line - 1])
    if match is None:
        return False
    codes = match.group("codes")
    if not codes:
        return True
    listed = [code.strip() for code in codes.replace(",", " ").split()]
    return any(violation.code.startswith(code) for code in listed if code)


def apply_fixes(module: cst.Module, fixes: list[Fix]) -> tuple[cst.Module, int]:
    """Replace the fixes' nodes and add their imports; returns the module and fixes applied."""
    applier = _ReplaceNodes(fixes)
    updated = module.visit(applier)
    if not applier.applied:
        return module, 0
    context = CodemodContext()
    for fix in applier.applied:
        for request in fix.imports:
            AddImportsVisitor.add_needed_import(context, request.module, request.obj)
    if context.scratch:
        updated = AddImportsVisitor(context).transform_module(updated)
    return updated, len(applier.applied)


class _ReplaceNodes(cst.CSTTransformer):
    """Swaps nodes by identity; a fix whose subtree already changed waits a pass."""

    def __init__(self, fixes: list[Fix]) -> None:
        super().__init__()
        self.pending = {id(fix.node): fix for fix in fixes}
        self.applied: list[Fix] = []
        self._marks: list[int] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if id(node) in self.pending:
            self._marks.append(len(self.applied))
        return True

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        fix = self.pending.get(id(original_node))
        if fix is None:
            return updated_node
        before = self._marks.pop()
        if len(self.applied) != before:
            return updated_node
        self.applied.append(fix)
        return fix.replacement


__all__ = ["FixResult", "ParseFailure", "fix_module", "apply_fixes", "is_noqa"]
