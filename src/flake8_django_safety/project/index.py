"""The project index: which file defines a name, and what Django makes of it.

One index per project root and process. It never imports user code: module
files are found with astroid's ``modutils`` (restricted to the project's own
folders), read with :mod:`ast` only when a lookup needs them, memoised, and
cached on disk keyed by the file's content hash so the next run (or the next
editor save) does not read them again. Anything it cannot resolve answers
None, and the rules that asked stay silent.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from astroid import modutils

from flake8_django_safety.project.facts import VALIDATION_HOOKS, ClassFacts, ModuleFacts, module_facts

ROOT_MARKERS = ("manage.py", "pyproject.toml", "setup.cfg", "tox.ini", ".flake8", ".git")
#: Django's model base, under the names code imports it by.
MODEL_BASES = frozenset({"django.db.models.Model", "django.db.models.base.Model"})
_CACHE_VERSION = "1"
_MAX_DEPTH = 20


def find_root(path: str | os.PathLike[str]) -> Path | None:
    """The nearest folder upward from ``path`` that holds a project marker."""
    current = Path(path).resolve()
    if current.is_file() or not current.exists():
        current = current.parent
    for folder in (current, *current.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "flake8-django-safety" / "index"


@dataclass(frozen=True)
class ClassRef:
    """A class defined in a project module."""

    module: ModuleFacts
    facts: ClassFacts

    @property
    def qualname(self) -> str:
        return self.facts.qualname


class ProjectIndex:
    """Cross-file facts of one project, computed lazily."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root
        self.search_path = [str(folder) for folder in (root, root / "src") if folder.is_dir()]
        self.cache_dir = cache_dir
        self._modules: dict[str, ModuleFacts | None] = {}
        self._overrides: dict[str, ModuleFacts] = {}
        self._override_sources: dict[str, str] = {}

    # -- modules ----------------------------------------------------------------

    def module_name(self, filename: str | os.PathLike[str]) -> str | None:
        """``shop.models`` for ``<root>/shop/models.py``."""
        path = Path(filename).resolve()
        for base in self.search_path:
            try:
                relative = path.relative_to(base)
            except ValueError:
                continue
            parts = list(relative.with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                parts.pop()
            if parts and all(part.isidentifier() for part in parts):
                return ".".join(parts)
        return None

    def use_source(self, filename: str, source: str) -> ModuleFacts | None:
        """Read the file being linted from the text flake8 or an editor has, not the disk."""
        name = self.module_name(filename)
        if name is None:
            return None
        known = self._overrides.get(name)
        if known is not None and self._override_sources.get(name) == source:
            return known  # the prefilter and the rule read the same text once
        facts = module_facts(name, source, is_package=Path(filename).name == "__init__.py")
        self._overrides[name] = facts
        self._override_sources[name] = source
        return facts

    def module(self, name: str) -> ModuleFacts | None:
        """Facts of a project module, or None when it is not the project's."""
        if name in self._overrides:
            return self._overrides[name]
        if name not in self._modules:
            self._modules[name] = self._load(name)
        return self._modules[name]

    def _load(self, name: str) -> ModuleFacts | None:
        try:
            found = modutils.file_from_modpath(name.split("."), path=self.search_path)
        except (ImportError, SyntaxError, ValueError, AttributeError):
            return None
        if not found or not found.endswith(".py"):
            return None
        path = Path(found).resolve()
        if not any(path.is_relative_to(base) for base in self.search_path):
            return None  # installed packages are recognised by qualified name only
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return self._cached_facts(name, data, path.name == "__init__.py")

    def _cached_facts(self, name: str, data: bytes, is_package: bool) -> ModuleFacts:
        if self.cache_dir is None:
            return module_facts(name, data, is_package=is_package)
        key = hashlib.sha256(f"{_CACHE_VERSION}\0{name}\0{is_package}\0".encode() + data).hexdigest()
        entry = self.cache_dir / key[:2] / f"{key}.pickle"
        try:
            with entry.open("rb") as stream:
                cached = pickle.load(stream)
            if isinstance(cached, ModuleFacts):
                return cached
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass
        facts = module_facts(name, data, is_package=is_package)
        _write_atomically(entry, pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL))
        return facts

    # -- names ------------------------------------------------------------------

    def resolve_class(self, qualified: str, _depth: int = 0) -> ClassRef | None:
        """The project class ``qualified`` names, through re-exports; None otherwise."""
        if _depth > _MAX_DEPTH or "." not in qualified:
            return None
        module_name, _, name = qualified.rpartition(".")
        module = self.module(module_name)
        if module is None:
            return None
        if name in module.classes:
            return ClassRef(module, module.classes[name])
        target = module.imports.get(name)
        if target is not None and target != qualified:
            return self.resolve_class(target, _depth + 1)
        return None

    def ancestry(self, ref: ClassRef) -> Iterator[ClassRef | str]:
        """The class, then its bases depth first: project classes, or qualified names."""
        seen: set[str] = set()
        stack: list[ClassRef | str] = [ref]
        while stack and len(seen) < 200:
            item = stack.pop()
            key = item if isinstance(item, str) else item.qualname
            if key in seen:
                continue
            seen.add(key)
            yield item
            if isinstance(item, ClassRef):
                for base in reversed(item.facts.bases):
                    stack.append(self.resolve_class(base) or base)

    # -- Django -----------------------------------------------------------------

    def skips_validation(self, ref: ClassRef) -> bool:
        """A model with validation that ``save()`` alone would skip."""
        return self.is_model(ref) and bool(self.validation_hooks(ref)) and not self.validates_itself(ref)

    def is_model(self, ref: ClassRef) -> bool:
        return any(isinstance(item, str) and item in MODEL_BASES for item in self.ancestry(ref))

    def validation_hooks(self, ref: ClassRef, fields: frozenset[str] | None = None) -> list[str]:
        """What ``full_clean()`` would enforce: hooks and ``validators=`` fields, inherited.

        ``fields``: only the validators of these fields count (the fields a call
        sets); model-wide hooks such as ``clean()`` always count.
        """
        found: list[str] = []
        for item in self.ancestry(ref):
            if isinstance(item, ClassRef):
                found += sorted(f"{hook}()" for hook in item.facts.methods & VALIDATION_HOOKS)
                found += [
                    f"validators= on `{f.name}`"
                    for f in item.facts.fields
                    if f.has_validators and (fields is None or f.name in fields)
                ]
        return found

    def validates_itself(self, ref: ClassRef) -> bool:
        """The model's own ``save()`` (or an inherited one) calls ``self.full_clean()``."""
        for item in self.ancestry(ref):
            if isinstance(item, ClassRef) and "save" in item.facts.methods:
                return item.facts.save_calls_full_clean
        return False


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError:
        pass  # a cache that cannot be written is only slower


@lru_cache(maxsize=32)
def index_for_root(root: Path, cache_dir: Path | None) -> ProjectIndex:
    """One index per project root and cache folder, for the life of the process."""
    return ProjectIndex(root, cache_dir)


def index_for_file(filename: str, cache_dir: Path | None) -> ProjectIndex | None:
    root = find_root(filename)
    return None if root is None else index_for_root(root, cache_dir)
