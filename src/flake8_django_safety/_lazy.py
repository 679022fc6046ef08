"""libcst, loaded on first use.

flake8 imports every installed plugin in every run, and importing libcst costs
about 0.35 CPU seconds plus slower garbage collections for the rest of the
process. Most runs lint files no rule's prefilter admits, so the plugin must
not pay that until a file is actually parsed.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module object whose import runs on first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # pragma: no cover - libcst is a dependency
        raise ImportError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


cst = lazy_module("libcst")
