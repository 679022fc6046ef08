"""DJS501's fixes proven on a real database: every function of the fixture runs on
SQLite before and after each fix snapshot, and both return the same rows, with the
same keys and values (and, for the safe snapshot, the keys in the same order)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("django")

from harness import fixture_path  # noqa: E402

RUNTIME = Path(__file__).parent / "runtime"
sys.path.insert(0, str(RUNTIME))

from djangoenv import setup_django  # noqa: E402

ORIGINAL = fixture_path("DJS501")
SNAPSHOTS = {
    "safe": ORIGINAL.with_name("DJS501.fixed.py"),
    "unsafe": ORIGINAL.with_name("DJS501.unsafe.fixed.py"),
}


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def newsroom() -> Iterator[None]:
    """Three reporters (one without a section), five stories (one without a
    reporter, one with two labels, one with none), two labels."""
    setup_django()
    from desk.models import Label, Reporter, Section, Story

    politics = Section.objects.create(name="Politics")
    ann = Reporter.objects.create(name="Ann", section=politics)
    bob = Reporter.objects.create(name="Bob", section=politics)
    Reporter.objects.create(name="Cy", section=None)
    local, world = Label.objects.create(name="local"), Label.objects.create(name="world")
    rows = [
        ("Budget passes", "budget", 450, ann, [local, world]),
        ("Bridge reopens", "bridge", 120, ann, [local]),
        ("Storm warning", "storm", 80, bob, []),
        ("Anonymous tip", "tip", 300, None, [world]),
        ("Zoo births", "zoo", 60, bob, [local]),
    ]
    for headline, slug, words, reporter, labels in rows:
        story = Story.objects.create(headline=headline, slug=slug, words=words, reporter=reporter)
        story.labels.set(labels)
    try:
        yield
    finally:
        for model in (Story, Label, Reporter, Section):
            model.objects.all().delete()


def _cases(module: ModuleType) -> dict[str, Callable[[], Any]]:
    """The module's own functions that take no argument: the ones that can run."""
    return {
        name: function
        for name, function in vars(module).items()
        if inspect.isfunction(function)
        and function.__module__ == module.__name__
        and not inspect.signature(function).parameters
    }


def _ordered(value: Any) -> Any:
    """``value`` with every dict turned into its items in order, so that equal
    results with keys in another order compare unequal."""
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    if isinstance(value, (list, tuple)):
        return [_ordered(item) for item in value]
    return value


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS))
def test_fixed_code_returns_the_same_rows(snapshot: str, newsroom: None) -> None:
    original = _load(ORIGINAL, "desk_djs501_original")
    fixed = _load(SNAPSHOTS[snapshot], f"desk_djs501_{snapshot}")
    before, after = _cases(original), _cases(fixed)
    assert before.keys() == after.keys()
    changed = [
        name for name in before if inspect.getsource(before[name]) != inspect.getsource(after[name])
    ]
    assert changed, "the snapshot changes no function that can run: it proves nothing"
    for name, function in before.items():
        expected, got = function(), after[name]()
        assert got == expected, name
        if snapshot == "safe":
            assert _ordered(got) == _ordered(expected), f"{name}: keys in another order"


def test_every_fixed_function_runs() -> None:
    """A fix in a function that takes arguments would escape the comparison above."""
    setup_django()
    original = _load(ORIGINAL, "desk_djs501_shapes")
    runnable = _cases(original)
    for path in SNAPSHOTS.values():
        fixed = _load(path, f"desk_djs501_shapes_{path.stem.replace('.', '_')}")
        for name, function in vars(fixed).items():
            if inspect.isfunction(function) and function.__module__ == fixed.__name__:
                if inspect.getsource(function) != inspect.getsource(getattr(original, name)):
                    assert name in runnable, f"{path.name}: {name} is fixed but never run"


def test_the_unsafe_snapshot_reorders_keys_where_the_page_says() -> None:
    """Keys after a renamed one move: equal dicts, another order (why that fix is unsafe)."""
    setup_django()
    from desk.models import Story

    Story.objects.create(headline="h", slug="s")
    try:
        original = _load(ORIGINAL, "desk_djs501_order")
        fixed = _load(SNAPSHOTS["unsafe"], "desk_djs501_order_fixed")
        before, after = original.keys_reordered(), fixed.keys_reordered()
        assert before == after
        assert list(before[0]) == ["title", "slug"] and list(after[0]) == ["slug", "title"]
    finally:
        Story.objects.all().delete()
