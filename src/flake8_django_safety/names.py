"""How a local name is bound and used inside one function, without scope metadata.

Rules that follow a value through a local (``rows = Article.objects.values(...)``;
``for row in rows``) need to know that the name is bound exactly once and, for a
fix that moves code, how often it is read. libcst's ``ScopeProvider`` answers
that for the whole module at a cost the hot path cannot pay (DESIGN.md,
Performance); this walks only the one function a rule asks about, and only
when it asks. It over-counts on purpose (a nested function's own locals and a
comprehension's variables count as bindings and reads of the outer name), so
every doubt makes the answer "not bound once" or "read elsewhere": the rule
stays silent or offers no fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst

if TYPE_CHECKING:
    import libcst


@dataclass
class NameUse:
    """What one function does with one name."""

    #: The values assigned by plain ``name = value`` statements.
    assigned: list[libcst.BaseExpression] = field(default_factory=list)
    #: Every other binding: parameters, ``for``/``with``/``import`` targets,
    #: augmented and annotated assignments, tuple targets, ``global``/``nonlocal``, ``del``.
    other_bindings: int = 0
    #: Each read of the name, by node.
    reads: list[libcst.Name] = field(default_factory=list)

    @property
    def bound_once(self) -> libcst.BaseExpression | None:
        """The value of the only binding, when it is a plain assignment."""
        if len(self.assigned) == 1 and not self.other_bindings:
            return self.assigned[0]
        return None


def name_use(function: libcst.CSTNode, name: str) -> NameUse:
    """How ``function`` (a ``FunctionDef``, or a module) binds and reads ``name``."""
    use = NameUse()
    skip: set[int] = set()

    def bind_target(target: libcst.BaseExpression, value: libcst.BaseExpression | None) -> None:
        if isinstance(target, cst.Name):
            skip.add(id(target))
            if target.value == name:
                if value is None:
                    use.other_bindings += 1
                else:
                    use.assigned.append(value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                bind_target(element.value, None)
        elif isinstance(target, cst.StarredElement):
            bind_target(target.value, None)

    def walk(node: libcst.CSTNode) -> None:
        if isinstance(node, cst.Assign):
            for target in node.targets:
                bind_target(target.target, node.value if len(node.targets) == 1 else None)
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
            bind_target(node.target, None)
        elif isinstance(node, (cst.For, cst.CompFor)):
            bind_target(node.target, None)
        elif isinstance(node, cst.AsName):
            bind_target(node.name, None)  # type: ignore[arg-type]
        elif isinstance(node, cst.NamedExpr):
            bind_target(node.target, None)
        elif isinstance(node, cst.Del):
            bind_target(node.target, None)
        elif isinstance(node, cst.Param):
            bind_target(node.name, None)
        elif isinstance(node, (cst.MatchAs, cst.MatchStar)) and node.name is not None:
            bind_target(node.name, None)
        elif isinstance(node, (cst.Global, cst.Nonlocal)):
            if any(item.name.value == name for item in node.names):
                use.other_bindings += 1
            skip.update(id(item.name) for item in node.names)
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            skip.add(id(node.name))
            if node.name.value == name:
                use.other_bindings += 1
        elif isinstance(node, cst.ImportAlias):
            bound = node.asname.name if node.asname is not None else node.name
            if isinstance(bound, cst.Name) and bound.value == name:
                use.other_bindings += 1
            return
        elif isinstance(node, cst.Attribute):
            skip.add(id(node.attr))
        elif isinstance(node, cst.Arg) and node.keyword is not None:
            skip.add(id(node.keyword))
        elif isinstance(node, cst.Name) and node.value == name and id(node) not in skip:
            use.reads.append(node)
        for child in node.children:
            walk(child)

    walk(function)
    return use
