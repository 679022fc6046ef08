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
import re
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from astroid import modutils

from flake8_django_safety.project.facts import (
    QUIET_CALLS,
    VALIDATION_HOOKS,
    ClassFacts,
    MethodFacts,
    ModuleFacts,
    module_facts,
)

ROOT_MARKERS = ("manage.py", "pyproject.toml", "setup.cfg", "tox.ini", ".flake8", ".git")
#: Django's model base, under the names code imports it by.
MODEL_BASES = frozenset({"django.db.models.Model", "django.db.models.base.Model"})
_CACHE_VERSION = "12"
#: Folders of installed or generated code, never the project's own.
_NOT_PROJECT_FOLDERS = frozenset({"node_modules", "site-packages", "__pycache__", "venv", ".venv", "env", ".tox", "build", "dist"})
_SETTINGS_MODULE = re.compile(r"""DJANGO_SETTINGS_MODULE["']?\s*[,=:]\s*["']?([A-Za-z_][\w.]*)""")
#: Model methods that are not "change these fields, then save" helpers.
_NOT_MUTATORS = VALIDATION_HOOKS | {"save", "asave", "delete", "adelete", "full_clean", "refresh_from_db"}
_MAX_DEPTH = 20
#: Names a Django settings module binds; one is enough to tell it from an app package.
_DJANGO_SETTINGS = ("INSTALLED_APPS", "DATABASES", "ROOT_URLCONF", "SECRET_KEY", "MIDDLEWARE")
_TEST_PARTS = frozenset({"test", "tests", "testing", "testproject", "test_project"})


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


@dataclass(frozen=True)
class Hook:
    """Something ``full_clean()`` runs that can reject a row."""

    #: ``clean()`` or ``validators= on `slug```, for messages.
    label: str
    #: The fields it reads; None when it may read any (it hands ``self`` on).
    reads: frozenset[str] | None
    #: A field's ``validators=``, which a ModelSerializer copies onto its own field.
    field_validator: bool = False
    #: The hook method, for telling whether code runs the same checks itself.
    facts: MethodFacts | None = None


def _field_keys(names: frozenset[str]) -> set[str]:
    """Field names as written in code: ``item_id`` and ``item`` are the same field."""
    return {name[:-3] if name.endswith("_id") else name for name in names} - {"pk", "id"}


class ProjectIndex:
    """Cross-file facts of one project, computed lazily."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root
        self.search_path = [str(folder) for folder in (root, root / "src") if folder.is_dir()]
        self.cache_dir = cache_dir
        self._modules: dict[str, ModuleFacts | None] = {}
        self._app_models: dict[str, list[str]] | None = None
        self._settings: list[str] | None = None
        self._hooks: dict[str, list[Hook]] = {}
        self._skips: dict[str, bool] = {}
        self._overrides: dict[str, ModuleFacts] = {}
        self._override_sources: dict[str, str] = {}
        self._override_paths: dict[str, Path] = {}
        self._reverse: dict[str, dict[str, str]] | None = None
        self._lookup_names: frozenset[str] | None = None
        self._template_dirs: list[Path] | None = None
        self._files: list[tuple[str, Path]] | None = None
        #: words -> (generation, modules whose text says one of them)
        self._mentions: dict[tuple[str, ...], tuple[int, list[tuple[str, Path]]]] = {}
        #: Digest of the text each mentioning module was found in (see ``use_source``).
        self._mention_digests: dict[str, str] = {}
        #: Bumped when the linted text changes what a project-wide scan found.
        self._generation = 0
        self._memo: dict[object, tuple[int, object]] = {}

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
        # keyed by content like every other module: an editor's warm run unpickles
        facts = self._cached_facts(name, source.encode("utf-8", "surrogatepass"), Path(filename).name == "__init__.py")
        if self._mentions and self._mention_digests.get(name) != (
            _digest(source) if any(word in source for words in self._mentions for word in words) else None
        ):
            self._generation += 1  # a scan read another text of this module
        self._overrides[name] = facts
        self._override_sources[name] = source
        self._override_paths[name] = Path(filename)
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

    # -- project-wide scans -----------------------------------------------------

    def project_files(self) -> list[tuple[str, Path]]:
        """(module name, path) of every module of the project's own folders (walked once)."""
        if self._files is None:
            self._files = []
            for base in self.search_path[:1]:
                for folder, subfolders, files in os.walk(base):
                    subfolders[:] = sorted(n for n in subfolders if n.isidentifier() and n not in _NOT_PROJECT_FOLDERS)
                    for file in sorted(files):
                        if file.endswith(".py"):
                            path = Path(folder, file)
                            name = self.module_name(path)
                            if name is not None:
                                self._files.append((name, path))
        return self._files

    def modules_mentioning(self, words: tuple[str, ...]) -> list[tuple[str, Path]]:
        """(name, path) of the project modules whose text contains one of ``words``,
        the texts being linted included (read once per process; again when a
        linted text changes what was found)."""
        known = self._mentions.get(words)
        if known is not None and known[0] == self._generation:
            return known[1]
        found: list[tuple[str, Path]] = []
        files = dict(self.project_files())
        files.update((name, path) for name, path in self._override_paths.items() if name not in files)
        for name, path in files.items():
            text = self._override_sources[name] if name in self._override_sources else _read_text(path)
            if text is not None and any(word in text for word in words):
                found.append((name, path))
                self._mention_digests[name] = _digest(text)
        self._mentions[words] = (self._generation, found)
        return found

    def module_text(self, name: str, path: Path) -> str | None:
        """The text of project module ``name``: the text being linted when it is
        one, else the file's."""
        return self._override_sources[name] if name in self._override_sources else _read_text(path)

    def memoised(self, key: object, compute: Callable[[], object]) -> object:
        """``compute()`` once per process and ``key``, again after a linted text
        changed what a project-wide scan found (see ``modules_mentioning``)."""
        known = self._memo.get(key)
        if known is None or known[0] != self._generation:
            value = compute()
            known = self._memo[key] = (self._generation, value)
        return known[1]

    # -- names ------------------------------------------------------------------

    def resolve_class(self, qualified: str, _depth: int = 0) -> ClassRef | None:
        """The project class ``qualified`` names, through re-exports; None otherwise."""
        if _depth > _MAX_DEPTH or "." not in qualified:
            return None
        if qualified.startswith("@"):
            return self._resolve_app_model(qualified[1:], _depth)
        module_name, _, name = qualified.rpartition(".")
        module = self.module(module_name)
        if module is None:
            return None
        if name in module.classes:
            return ClassRef(module, module.classes[name])
        target = module.imports.get(name) or module.model_aliases.get(name)
        if target is not None and target != qualified:
            return self.resolve_class(target, _depth + 1)
        for star in module.star_imports:  # ``from .models import *`` in a package
            found = self.resolve_class(f"{star}.{name}", _depth + 1)
            if found is not None:
                return found
        return None

    def canonical(self, qualified: str) -> str:
        """A name that is not a project class, followed through project modules that
        re-export it to where it comes from: ``pretix.api.serializers.i18n.X``
        (``from i18nfield.rest_framework import X`` there) -> ``i18nfield.rest_framework.X``."""
        for _ in range(_MAX_DEPTH):
            module_name, _, name = qualified.rpartition(".")
            module = self.module(module_name) if module_name else None
            target = None if module is None else module.imports.get(name)
            if target is None or target == qualified:
                break
            qualified = target
        return qualified

    def is_project_name(self, qualified: str) -> bool:
        """``qualified`` lives in a project module but did not resolve: something
        (a dynamic definition, an unsupported import) hides it; rules stay silent."""
        module_name = qualified.rpartition(".")[0]
        while module_name:
            if self.module(module_name) is not None:
                return True
            module_name = module_name.rpartition(".")[0]
        return False

    def opens_atomic(self, qualified: str) -> bool:
        """``qualified`` names a project context manager that runs its block in ``atomic()``."""
        return self._defined_in(qualified, "atomic_contexts")

    def rolls_back(self, qualified: str) -> bool:
        """``qualified`` names a project context manager that rolls back its block."""
        return self._defined_in(qualified, "rollback_contexts")

    def _defined_in(self, qualified: str, kind: str, depth: int = 0) -> bool:
        """The function ``qualified`` names (through re-exports) is among its
        module's ``kind`` (a ModuleFacts set of function names)."""
        if depth > _MAX_DEPTH or "." not in qualified:
            return False
        module_name, _, name = qualified.rpartition(".")
        module = self.module(module_name)
        if module is None:
            return False
        if name in getattr(module, kind):
            return True
        target = module.imports.get(name)
        return target is not None and target != qualified and self._defined_in(target, kind, depth + 1)

    # -- settings ---------------------------------------------------------------

    def settings_modules(self) -> list[str]:
        """The project's settings module(s): ``DJANGO_SETTINGS_MODULE`` as
        manage.py, wsgi.py / asgi.py or the pytest configuration set it, else
        the shallowest ``settings.py`` / ``settings/`` package."""
        if self._settings is None:
            self._settings = self._find_settings()
        return self._settings

    def _find_settings(self) -> list[str]:
        candidates = [self.root / name for name in ("manage.py", "pytest.ini", "setup.cfg", "tox.ini", "pyproject.toml")]
        candidates += sorted(self.root.glob("*/wsgi.py")) + sorted(self.root.glob("*/asgi.py"))
        candidates += sorted(self.root.glob("src/*/wsgi.py"))
        named: list[str] = []
        for path in candidates:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for match in _SETTINGS_MODULE.finditer(text):
                if match.group(1) not in named and self.module(match.group(1)) is not None:
                    named.append(match.group(1))
        if named:
            return named
        found: list[tuple[int, str]] = []
        for base in self.search_path[:1]:
            for folder, subfolders, files in os.walk(base):
                depth = len(Path(folder).relative_to(base).parts)
                subfolders[:] = [n for n in subfolders if n.isidentifier() and depth < 3 and n not in ("tests", "node_modules")]
                if "settings.py" in files:
                    name = self.module_name(os.path.join(folder, "settings.py"))
                    if name:
                        found.append((depth, name))
                if "settings" in subfolders and os.path.exists(os.path.join(folder, "settings", "__init__.py")):
                    name = self.module_name(os.path.join(folder, "settings", "__init__.py"))
                    if name:
                        found.append((depth, name))
        found.sort()
        return [name for depth, name in found if depth == found[0][0]] if found else []

    def atomic_requests(self) -> bool:
        """``ATOMIC_REQUESTS`` is on in a settings module (or what it star-imports)."""
        for name in self.settings_modules():
            found = self._settings_lookup(name, lambda module: module.atomic_requests)
            if isinstance(found, bool):
                return found
        return False

    def setting(self, key: str) -> list[object] | None:
        """The value of a setting of ``SETTING_PATHS`` in each settings module (or
        what it star-imports): a tuple of dotted strings, ``()`` when no module
        sets it, ``...`` when computed. None when the project has no settings module."""
        names = [name for name in self.settings_modules() if self._deployable_settings(name)]
        if not names:
            return None
        values = [self._settings_lookup(name, lambda module: module.settings.get(key)) for name in names]
        return [() if value is None else value for value in values]

    def _settings_lookup(self, name: str, value_of: Callable[[ModuleFacts], object]) -> object:
        """The first value ``value_of`` finds in settings module ``name`` or what it
        star-imports (depth first); ``...`` when a star-imported module cannot be
        read (it may set it); None when nothing sets it."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            current = stack.pop()
            if current in seen or len(seen) > _MAX_DEPTH:
                continue
            seen.add(current)
            module = self.module(current)
            if module is None:
                if current != name:
                    return ...
                continue
            value = value_of(module)
            if value is not None:
                return value
            stack.extend(module.star_imports)
        return None

    def _deployable_settings(self, name: str) -> bool:
        """A settings module a deployment runs with: not a test project's, and
        binding a Django setting (an app package or DRF's ``rest_framework.settings``
        is not one)."""
        parts = name.split(".")
        if set(parts) & _TEST_PARTS or parts[-1].startswith("test_") or parts[-1].endswith("_test"):
            return False
        return any(self.module_binds(name, setting) is not False for setting in _DJANGO_SETTINGS)

    def module_binds(self, module_name: str, name: str, _depth: int = 0) -> bool | None:
        """Module ``module_name`` binds ``name`` at its top level (itself or through
        ``import *``); None when the module, or one it star-imports, is not readable."""
        module = self.module(module_name)
        if module is None or _depth > _MAX_DEPTH:
            return None
        if name in module.names:
            return True
        answer: bool | None = False
        for star in module.star_imports:
            found = self.module_binds(star, name, _depth + 1)
            if found:
                return True
            if found is None:
                answer = None
        return answer

    def _resolve_app_model(self, label_model: str, depth: int) -> ClassRef | None:
        """``catalogue.Product`` (from ``get_model``): the class in the one models
        module of an app folder named ``catalogue``; None when none or several."""
        label, _, model = label_model.partition(".")
        if self._app_models is None:
            self._app_models = self._models_modules()
        found = [
            ref
            for module in self._app_models.get(label, [])
            if (ref := self.resolve_class(f"{module}.{model}", depth + 1)) is not None
        ]
        return found[0] if len(found) == 1 else None

    def _models_modules(self) -> dict[str, list[str]]:
        """App label -> ``pkg.app.models`` for every ``models.py`` / ``models/`` in the project."""
        found: dict[str, list[str]] = {}
        for base in self.search_path[:1]:
            for folder, subfolders, files in os.walk(base):
                subfolders[:] = [
                    name for name in subfolders
                    if name.isidentifier() and name not in ("node_modules", "site-packages", "migrations", "tests")
                ]  # fmt: skip
                if "models.py" in files or "models" in subfolders:
                    name = self.module_name(os.path.join(folder, "__init__.py"))
                    if name:
                        found.setdefault(name.rpartition(".")[2], []).append(f"{name}.models")
        return found

    def reverse_relations(self, ref: ClassRef) -> dict[str, str]:
        """Accessor name -> field class (last name) of the relations other project
        models point at ``ref`` with: ``related_name`` accessors, and the default
        ``<model>`` accessor of a ``OneToOneField``. (``<model>_set`` accessors
        are recognised by their name.) Scans every models module once."""
        if self._reverse is None:
            self._reverse = {}
            for ref_in_models in self._models_classes():
                self._add_reverse(ref_in_models)
        return self._reverse.get(ref.qualname, {})

    def lookup_names(self) -> frozenset[str]:
        """Every name a reverse relation may take in some project model's lookups
        and ``_meta.get_fields()``: the lower-case name of each class of a models
        module (Django's default ``related_query_name``, and the reverse one-to-one
        of a multi-table child), and each literal ``related_name`` /
        ``related_query_name``. Not per model: a superset, for callers that must
        not pick a name Django could refuse."""
        if self._lookup_names is None:
            names: set[str] = set()
            for owner in self._models_classes():
                names.add(owner.facts.name.lower())
                for facts in owner.facts.fields:
                    names.update(n for n in (facts.related_name, facts.related_query_name) if n)
            self._lookup_names = frozenset(names)
        return self._lookup_names

    def _models_classes(self) -> Iterator[ClassRef]:
        """The classes of every models module of the project's apps."""
        if self._app_models is None:
            self._app_models = self._models_modules()
        for modules in self._app_models.values():
            for package in modules:
                for name in self._models_submodules(package):
                    module = self.module(name)
                    for facts in () if module is None else module.classes.values():
                        yield ClassRef(module, facts)

    def template_dirs(self) -> list[Path]:
        """Every folder named ``templates`` in the project, in a stable order (walked once)."""
        if self._template_dirs is None:
            self._template_dirs = []
            for folder, subfolders, _files in os.walk(self.root):
                subfolders[:] = sorted(
                    name for name in subfolders if not name.startswith(".") and name not in _NOT_PROJECT_FOLDERS
                )
                if os.path.basename(folder) == "templates":
                    self._template_dirs.append(Path(folder))
        return self._template_dirs

    def _models_submodules(self, package: str) -> list[str]:
        """``app.models`` and, for a ``models/`` package, the modules in it."""
        found = [package]
        for base in self.search_path[:1]:
            folder = Path(base, *package.split("."))
            if folder.is_dir():
                found += [f"{package}.{path.stem}" for path in sorted(folder.glob("*.py")) if path.stem != "__init__"]
        return found

    def _add_reverse(self, owner: ClassRef) -> None:
        assert self._reverse is not None
        for facts in owner.facts.fields:
            kind = facts.field_class.rpartition(".")[2]
            if facts.target is None or kind not in ("ForeignKey", "OneToOneField", "ManyToManyField"):
                continue
            if facts.related_name is not None:
                accessor = facts.related_name
            elif kind == "OneToOneField":
                accessor = owner.facts.name.lower()
            else:
                continue  # ``<model>_set``
            if "%" in accessor or accessor.endswith("+"):
                continue
            target = self._relation_target(owner, facts.target)
            if target is not None:
                self._reverse.setdefault(target.qualname, {})[accessor] = (
                    "OneToOneField" if kind == "OneToOneField" else "ManyToManyField"
                )

    def _relation_target(self, owner: ClassRef, target: str) -> ClassRef | None:
        if target == "self":
            return owner
        if target.count(".") == 1 and not self.resolve_class(target):
            return self.resolve_class(f"@{target}")  # "app_label.Model"
        if "." not in target:
            return self.resolve_class(f"{owner.module.name}.{target}")
        return self.resolve_class(target)

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
                    stack.append(self.resolve_class(base) or self.canonical(base))

    # -- Django -----------------------------------------------------------------

    def skips_validation(self, ref: ClassRef) -> bool:
        """A model with validation that ``save()`` alone would skip (memoised: every
        prefilter asks it for each model name a file mentions)."""
        known = self._skips.get(ref.qualname)
        if known is None:
            if self.has_unreadable_base(ref):
                known = False  # a project base we could not read may validate in save()
            else:
                known = self.is_model(ref) and bool(self.validation_hooks(ref)) and not self.validates_itself(ref)
            self._skips[ref.qualname] = known
        return known

    def has_unreadable_base(self, ref: ClassRef) -> bool:
        """A base of ``ref`` is a project class the index cannot read: it may do anything."""
        return any(isinstance(item, str) and self.is_project_name(item) for item in self.ancestry(ref))

    def is_model(self, ref: ClassRef) -> bool:
        return any(isinstance(item, str) and item in MODEL_BASES for item in self.ancestry(ref))

    def method(self, ref: ClassRef, name: str) -> MethodFacts | None:
        """The facts of the method ``name`` the class has, own or inherited from project code."""
        for item in self.ancestry(ref):
            if isinstance(item, ClassRef) and name in item.facts.method_facts:
                return item.facts.method_facts[name]
        return None

    def _closure(self, ref: ClassRef, facts: MethodFacts, seen: set[str]) -> tuple[frozenset[str] | None, bool]:
        """(fields read, may raise) of a method with the ``self`` methods it calls."""
        reads: set[str] | None = None if facts.passes_self else set()
        may_raise = facts.may_raise
        for name in (*facts.self_calls, *facts.reads):
            if name in seen:
                continue
            seen.add(name)
            inner = self.method(ref, name)
            if inner is None:
                if name in facts.self_calls:
                    may_raise = True  # a Django method such as ``self.clean_fields()``
                elif reads is not None:
                    reads.add(name)
                continue
            inner_reads, inner_raise = self._closure(ref, inner, seen)
            may_raise = may_raise or (inner_raise and name in facts.self_calls)
            if reads is not None:
                reads = None if inner_reads is None else reads | inner_reads
        return (None if reads is None else frozenset(reads)), may_raise

    def hooks(self, ref: ClassRef) -> list[Hook]:
        """What ``full_clean()`` would enforce on this model, inherited: hooks that
        can raise (a ``clean()`` that only normalises values is not one) and fields
        with ``validators=``."""
        if ref.qualname in self._hooks:
            return self._hooks[ref.qualname]
        found: list[Hook] = []
        self._hooks[ref.qualname] = found  # a cycle in the bases sees no hooks
        for item in self.ancestry(ref):
            if not isinstance(item, ClassRef):
                continue
            for name in sorted(item.facts.methods & VALIDATION_HOOKS):
                facts = item.facts.method_facts.get(name)
                if facts is None:
                    found.append(Hook(f"{name}()", None))
                    continue
                reads, may_raise = self._closure(ref, facts, {name})
                if may_raise:
                    found.append(Hook(f"{name}()", reads, facts=facts))
            found += [
                Hook(f"validators= on `{f.name}`", frozenset({f.name}), field_validator=True)
                for f in item.facts.fields
                if f.has_validators
            ]
        return found

    def validation_hooks(
        self,
        ref: ClassRef,
        fields: frozenset[str] | None = None,
        *,
        field_validators: bool = True,
        checked: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Labels of the hooks that could reject a write of ``fields`` (None: any field).

        A hook that reads none of the fields written cannot newly fail: the row
        it saw before was either valid or not this code's doing. When the
        fields are known, a hook whose reads are unknown (it hands ``self`` to
        other code) does not count either: precision first.
        ``field_validators=False`` leaves out fields' ``validators=`` (input that
        a ModelSerializer field already validated). ``checked``: the model's
        methods the code calls itself (``ItemAddOn.clean_min_count(...)`` in a
        serializer); a hook made only of calls to those is enforced already.
        """
        changed = None if fields is None else _field_keys(fields)
        labels: list[str] = []
        for hook in self.hooks(ref):
            if not field_validators and hook.field_validator:
                continue
            if changed is not None and (hook.reads is None or not _field_keys(hook.reads) & changed):
                continue  # reads none of the fields written, or we cannot tell which it reads
            if checked and hook.facts is not None and self._enforced(ref, hook.facts, checked, 0):
                continue
            if hook.label not in labels:
                labels.append(hook.label)
        return labels

    def _enforced(self, ref: ClassRef, facts: MethodFacts, checked: frozenset[str], depth: int) -> bool:
        """Everything ``facts`` can reject is rejected by the ``checked`` methods too."""
        if facts.raises or facts.passes_self or depth > _MAX_DEPTH:
            return False
        for name in facts.self_calls - checked:
            inner = self.method(ref, name)
            if inner is None or not self._enforced(ref, inner, checked, depth + 1):
                return False
        for callee in facts.calls:
            owner, _, name = callee.rpartition(".")
            target = self.resolve_class(owner) if owner else None
            if target is not None and target.qualname == ref.qualname:
                if name not in checked:
                    return False
            elif callee.rpartition(".")[2] not in QUIET_CALLS:
                return False
        return True

    def field_names(self, ref: ClassRef) -> frozenset[str]:
        """The fields the model declares, own and inherited from project bases."""
        return frozenset(
            f.name for item in self.ancestry(ref) if isinstance(item, ClassRef) for f in item.facts.fields
        )

    def fields_checked(self, refs: Iterable[ClassRef]) -> frozenset[str]:
        """The fields some hook or validator of these models is known to read (a
        write of known fields never counts for a hook whose reads are unknown)."""
        found: set[str] = set()
        for ref in refs:
            for hook in self.hooks(ref):
                if hook.reads is not None:
                    found |= _field_keys(hook.reads)
        return frozenset(found)

    def writer_methods(self, ref: ClassRef, fields: frozenset[str] | None = None) -> frozenset[str]:
        """The model's project methods that assign fields (``order.discount()``);
        with ``fields``, only those that may assign one of them."""
        return frozenset(
            name
            for item in self.ancestry(ref)
            if isinstance(item, ClassRef)
            for name in item.facts.method_facts
            if name not in _NOT_MUTATORS and not name.startswith("__")
            and ((written := self.writes(ref, name)) is None
            or (written and (fields is None or _field_keys(written) & fields)))
        )

    def writes(self, ref: ClassRef, method: str) -> frozenset[str] | None:
        """Fields a call of ``instance.method()`` assigns: empty when the method is
        not the project's, None when it may assign any."""
        facts = self.method(ref, method)
        if facts is None:
            return frozenset()
        written: set[str] = set()
        stack, seen = [facts], {method}
        while stack:
            current = stack.pop()
            if current.writes_any:
                return None
            written |= current.writes
            for name in current.self_calls - seen:
                seen.add(name)
                inner = self.method(ref, name)
                if inner is not None:
                    stack.append(inner)
        return frozenset(written)

    def validates_itself(self, ref: ClassRef) -> bool:
        """The model's own ``save()`` (or an inherited one) calls ``self.full_clean()``."""
        for item in self.ancestry(ref):
            if isinstance(item, ClassRef) and "save" in item.facts.methods:
                return item.facts.save_calls_full_clean
        return False


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


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
