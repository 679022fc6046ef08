"""The rule base class and the values rules produce.

A rule is a libcst batchable visitor that only observes: it calls
:meth:`Rule.report` with the node the user has to change and, where it can,
a :class:`Fix`. It never builds flake8 tuples, reads configuration files or
writes files; the engine and its adapters do that.
"""

from __future__ import annotations

import enum
import functools
import os
from functools import cached_property
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flake8_django_safety._lazy import cst

if TYPE_CHECKING:
    from flake8_django_safety.imports import ImportTracker
    from flake8_django_safety.prefilter import SourceText
    from flake8_django_safety.project import ProjectIndex
    from flake8_django_safety.settings import Settings


class Safety(enum.Enum):
    """How far a fix may be trusted."""

    #: Keeps behaviour; applied by default.
    SAFE = "safe"
    #: Changes behaviour on purpose; applied only with ``--unsafe-fixes``.
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class ImportRequest:
    """An import a fix needs: ``from module import obj`` or ``import module``."""

    module: str
    obj: str | None = None


@dataclass(frozen=True, eq=False)
class Fix:
    """A replacement of one node of the parsed module, plus the imports it needs.

    ``replacement`` may be a ``cst.FlattenSentinel`` to insert statements around
    a statement. Fixes refer to nodes of one parse and are meaningless outside it.
    """

    title: str
    safety: Safety
    node: cst.CSTNode = field(repr=False)
    replacement: cst.CSTNode | cst.FlattenSentinel[Any] = field(repr=False)
    imports: tuple[ImportRequest, ...] = ()


@dataclass(frozen=True, eq=False)
class Finding:
    """What a rule reports, before the engine turns node positions into lines."""

    code: str
    message: str
    node: cst.CSTNode = field(repr=False)
    fix: Fix | None = None


@dataclass(frozen=True)
class Violation:
    """A finding located in the source: 1-based line, 0-based column."""

    code: str
    message: str
    line: int
    column: int
    fix: Fix | None = field(default=None, compare=False)


@dataclass(frozen=True, eq=False)
class FileContext:
    """What a rule may know about the file it visits."""

    filename: str
    module: cst.Module
    settings: Settings
    imports: ImportTracker
    #: The text the module was parsed from, when the caller has it (saves a code generation).
    source: str | None = None
    #: What rules work out once per file and share (keyed by the helper that fills it).
    memo: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def project(self) -> ProjectIndex | None:
        """The cross-file index of this file's project (built lazily, cached per process)."""
        from flake8_django_safety.project import index_for_file

        index = index_for_file(self.filename, self.settings.index_cache_dir)
        if index is not None:
            index.use_source(self.filename, self.source if self.source is not None else self.module.code)
        return index

    @cached_property
    def module_name(self) -> str | None:
        return None if self.project is None else self.project.module_name(self.filename)

    @cached_property
    def package_name(self) -> str | None:
        """The package this file's relative imports start from (``shop.migrations`` for
        ``shop/migrations/0002_backfill.py``, whose own name is no identifier)."""
        if self.project is None:
            return None
        if self.filename.replace("\\", "/").endswith("/__init__.py"):
            return self.module_name
        return self.project.module_name(os.path.join(os.path.dirname(self.filename), "__init__.py"))

    def absolute_name(self, qualified: str) -> str | None:
        """``.models.Order`` (a relative import) made absolute for this file."""
        if not qualified.startswith("."):
            return qualified
        if self.package_name is None:
            return None
        dots = len(qualified) - len(qualified.lstrip("."))
        parts = self.package_name.split(".")
        if dots - 1 > len(parts):
            return None
        base = parts[: len(parts) - (dots - 1)]
        return ".".join([*base, qualified.lstrip(".")])

    def code_for(self, node: cst.CSTNode, limit: int = 60) -> str:
        """Source text of ``node`` on one line, shortened to ``limit`` characters."""
        text = " ".join(self.module.code_for_node(node).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


class RuleFailed(Exception):
    """Raised by the engine when a rule raised while visiting a file."""

    def __init__(self, code: str, error: BaseException) -> None:
        super().__init__(f"{code} failed on this file: {type(error).__name__}: {error}")
        self.code = code
        self.error = error


_REGISTRY: dict[str, type[Rule]] = {}


class Visitor:
    """libcst visitor methods (``visit_<Node>``/``leave_<Node>``) on a plain class.

    The engine hands :meth:`visitors` to a libcst batched traversal, so defining
    a rule does not import libcst (see ``_lazy``).
    """

    METADATA_DEPENDENCIES: ClassVar[tuple[object, ...]] = ()

    def visitors(self) -> dict[str, Callable[..., Any]]:
        """The ``visit_*``/``leave_*`` methods by name, as libcst's batched visitor wants."""
        return {name: getattr(self, name) for name in _visitor_names(type(self))}


@functools.lru_cache(maxsize=None)
def _visitor_names(cls: type) -> tuple[str, ...]:
    return tuple(
        name
        for name in dir(cls)
        if name.startswith(("visit_", "leave_")) and callable(getattr(cls, name))
    )


class Rule(Visitor):
    """Base class of every rule; subclassing registers the rule by its code.

    Subclasses set the class attributes below, document themselves in the class
    docstring (the user documentation, see ``docs.py``) and implement libcst
    ``visit_*``/``leave_*`` methods that call :meth:`report`.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]
    fix_safety: ClassVar[Safety | None] = None
    #: Some fixes are unsafe even though ``fix_safety`` is SAFE (the page says when).
    sometimes_unsafe: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True
    #: Names of the ``Settings`` fields this rule reads (documented under Options).
    options: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if code is None or not register:
            return
        if code in _REGISTRY:
            raise ValueError(f"rule code {code} is registered twice")
        _REGISTRY[code] = cls

    def __init__(self, context: FileContext) -> None:
        super().__init__()
        self.context = context
        self.settings = context.settings
        self.findings: list[Finding] = []
        self.failure: BaseException | None = None

    # -- cheap checks the engine runs before it parses anything ---------------

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        """Whether files of this name are in scope (tests, migrations ...)."""
        return True

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        """Whether the raw text may hold a finding; False means never parse for us."""
        return True

    # -- reporting ------------------------------------------------------------

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None) -> None:
        """Report ``message`` on ``node`` (the expression the user has to change)."""
        self.findings.append(Finding(self.code, message, node, fix))

    # -- fault isolation ------------------------------------------------------

    def visitors(self) -> dict[str, Callable[..., Any]]:
        """Each visitor method guarded, so a failure stays this rule's (DJS000)."""
        return {
            name: functools.partial(self._guarded, method)
            for name, method in super().visitors().items()
        }

    def _guarded(self, method: Callable[..., Any], *args: Any) -> Any:
        if self.failure is not None:
            return None
        try:
            return method(*args)
        except RecursionError:
            raise  # a tree too deep for libcst: the engine stays silent on the file
        except Exception as error:  # noqa: BLE001 - contained and reported as DJS000
            self.failure = error
            return None


def registered_rules() -> dict[str, type[Rule]]:
    """All rules by code, in code order."""
    import flake8_django_safety.rules  # noqa: F401 - registers the rules

    return dict(sorted(_REGISTRY.items()))
