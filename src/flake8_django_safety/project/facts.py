"""What one module says about its classes, read with :mod:`ast` (never imported).

Facts are plain, picklable values so they can be cached on disk keyed by the
file's content. Names are stored qualified through the module's own imports
(``models.Model`` in a file that did ``from django.db import models`` is
``django.db.models.Model``); resolving them to other project files is the
index's job.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

#: Model hooks that make ``full_clean()`` enforce something ``save()`` does not.
VALIDATION_HOOKS = frozenset({"clean", "clean_fields", "validate_unique", "validate_constraints"})


@dataclass(frozen=True)
class FieldFacts:
    """A class-level ``name = SomeField(...)`` assignment."""

    name: str
    field_class: str
    has_validators: bool
    #: First positional argument or ``to=``, for relations (``"app.Model"``, a class name).
    target: str | None = None
    related_name: str | None = None


@dataclass(frozen=True)
class ClassFacts:
    """One class of a module."""

    name: str
    qualname: str
    line: int
    bases: tuple[str, ...]
    methods: frozenset[str]
    fields: tuple[FieldFacts, ...]
    #: ``Meta`` attributes with literal values (``abstract``, ``model``, ``fields``...).
    meta: dict[str, object] = field(default_factory=dict)
    save_calls_full_clean: bool = False
    #: Methods that call ``full_clean()`` or ``clean()`` on anything.
    methods_calling_full_clean: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ModuleFacts:
    """The classes and imports of one module."""

    name: str
    is_package: bool
    imports: dict[str, str]
    classes: dict[str, ClassFacts]

    def qualify(self, dotted: str) -> str:
        """``models.Model`` -> ``django.db.models.Model`` through this module's names."""
        head, _, rest = dotted.partition(".")
        if head in self.imports:
            base = self.imports[head]
        elif head in self.classes:
            base = f"{self.name}.{head}"
        else:
            return dotted
        return f"{base}.{rest}" if rest else base


def module_facts(name: str, source: str | bytes, *, is_package: bool = False) -> ModuleFacts:
    """Facts of module ``name``; a file that does not parse yields no classes."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ModuleFacts(name, is_package, {}, {})
    package = name if is_package else name.rpartition(".")[0]
    imports: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    imports[alias.asname] = alias.name
                else:
                    head = alias.name.split(".", 1)[0]
                    imports[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is None:
                continue
            for alias in node.names:
                if alias.name != "*":
                    imports[alias.asname or alias.name] = f"{base}.{alias.name}"
    facts = ModuleFacts(name, is_package, imports, {})
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            facts.classes[node.name] = _class_facts(node, facts)
    return facts


def _absolute(module: str | None, level: int, package: str) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.C`` for a Name/Attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _class_facts(node: ast.ClassDef, module: ModuleFacts) -> ClassFacts:
    bases = tuple(
        module.qualify(name) for base in node.bases if (name := dotted_name(base)) is not None
    )
    methods: set[str] = set()
    validating: set[str] = set()
    fields: list[FieldFacts] = []
    meta: dict[str, object] = {}
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods.add(statement.name)
            if _calls_full_clean(statement):
                validating.add(statement.name)
        elif isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    found = _field(target.id, statement.value, module)
                    if found is not None:
                        fields.append(found)
        elif isinstance(statement, ast.ClassDef) and statement.name == "Meta":
            meta = _meta(statement)
    return ClassFacts(
        name=node.name,
        qualname=f"{module.name}.{node.name}",
        line=node.lineno,
        bases=bases,
        methods=frozenset(methods),
        fields=tuple(fields),
        meta=meta,
        save_calls_full_clean="save" in validating and _save_calls_self_full_clean(node),
        methods_calling_full_clean=frozenset(validating),
    )


def _field(name: str, call: ast.Call, module: ModuleFacts) -> FieldFacts | None:
    callee = dotted_name(call.func)
    if callee is None:
        return None
    target = None
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        target = call.args[0].value
    elif call.args and (dotted := dotted_name(call.args[0])) is not None:
        target = module.qualify(dotted)
    related = None
    for keyword in call.keywords:
        if keyword.arg == "to":
            target = _literal_or_name(keyword.value, module)
        elif keyword.arg == "related_name" and isinstance(keyword.value, ast.Constant):
            related = str(keyword.value.value)
    return FieldFacts(
        name=name,
        field_class=module.qualify(callee),
        has_validators=any(k.arg == "validators" for k in call.keywords),
        target=target,
        related_name=related,
    )


def _literal_or_name(node: ast.expr, module: ModuleFacts) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    dotted = dotted_name(node)
    return module.qualify(dotted) if dotted else None


def _meta(node: ast.ClassDef) -> dict[str, object]:
    meta: dict[str, object] = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if not isinstance(target, ast.Name):
                continue
            try:
                meta[target.id] = ast.literal_eval(statement.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                dotted = dotted_name(statement.value)
                if dotted is not None:
                    meta[target.id] = _Name(dotted)
    return meta


class _Name(str):
    """A ``Meta`` value that is a name (``model = Order``), not a literal."""


def meta_name(value: object) -> str | None:
    return str(value) if isinstance(value, _Name) else None


def _calls_full_clean(function: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("full_clean", "clean")
        for node in ast.walk(function)
    )


def _save_calls_self_full_clean(node: ast.ClassDef) -> bool:
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == "save":
            for inner in ast.walk(statement):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "full_clean"
                    and isinstance(inner.func.value, ast.Name)
                    and inner.func.value.id == "self"
                ):
                    return True
    return False
