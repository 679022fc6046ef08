"""Name resolution through the file's imports, without libcst's scope metadata.

``QualifiedNameProvider`` needs ``ScopeProvider``, which costs about ten times
the parse on a large project (see DESIGN.md, Performance). Rules here only need
to know what an imported name stands for (``sha256`` is ``hashlib.sha256``,
``ctc`` is ``django.utils.crypto.constant_time_compare``), so the engine runs
this tracker first in the same traversal and rules ask it as they go. Imports
are seen in source order, which is the order Python binds them in.
"""

from __future__ import annotations

from flake8_django_safety._lazy import cst
from flake8_django_safety.rule import ImportRequest, Visitor


class ImportTracker(Visitor):
    """Maps local names to the dotted names they were imported as."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            dotted = cst.helpers.get_full_name_for_node(alias.name)
            if dotted is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.names[alias.asname.name.value] = dotted
            else:
                # ``import a.b`` binds ``a``; ``a.b.c`` then resolves through it.
                head = dotted.split(".", 1)[0]
                self.names[head] = head

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        module = cst.helpers.get_full_name_for_node(node.module) if node.module is not None else ""
        if module is None:
            return
        if node.relative:
            # Kept relative (``.models``): only the project index knows the package.
            module = "." * len(node.relative) + module
        for alias in node.names:
            name = cst.helpers.get_full_name_for_node(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.names[local] = f"{module}.{name}" if not module.endswith(".") else f"{module}{name}"

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """``hashlib.sha256`` for ``sha256`` or ``h.sha256`` (imported), else None."""
        if isinstance(node, cst.Name):
            return self.names.get(node.value)
        if isinstance(node, cst.Attribute):
            base = self.qualify(node.value)
            return None if base is None else f"{base}.{node.attr.value}"
        return None

    def local_reference(self, qualified: str) -> str | None:
        """An expression that reaches ``qualified`` through an existing import."""
        module, _, obj = qualified.rpartition(".")
        for local, target in self.names.items():
            if target == qualified:
                return local
        for local, target in self.names.items():
            if target == module:
                return f"{local}.{obj}"
        return None

    def reference_for_fix(self, qualified: str, module: str, name: str) -> tuple[str, tuple[ImportRequest, ...]] | None:
        """How fixed code reaches ``qualified``: through an existing import, or as
        ``name...`` after ``from module import name`` (the import to request).
        None when ``name`` is already bound to something else."""
        local = self.local_reference(qualified)
        if local is not None:
            return local, ()
        if name in self.names:
            return None
        rest = qualified.removeprefix(f"{module}.{name}")
        return f"{name}{rest}", (ImportRequest(module, name),)
