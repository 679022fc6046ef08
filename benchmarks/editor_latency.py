"""Editor latency and index build time of the cross-file rules (DJS2xx).

An editor runs flake8 on one file per save, in a fresh process. The cross-file
rules then read the facts of the models a file uses from the on-disk index
cache (warm after the first run) instead of parsing those files again. This
script measures, on a real project:

1. the cold index build: the facts of every module of the project read with
   an empty cache folder (CPU seconds, in this process), then the same with
   the cache warm;
2. per file, ``flake8 --select=E,F,W,DJS1`` (cross-file rules off) against
   ``flake8 --select=E,F,W,DJS1,DJS2`` (the cross-file DJS2xx rules on, though
   they are off by default), each in a fresh process with a warm cache: CPU
   medians and their ratio.

Standard library and this package only::

    python benchmarks/editor_latency.py /path/to/oscar-root oscar/apps/customer/views.py ...
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from select_ratio import cpu  # benchmarks/ is on sys.path when run as a script

CONFIGS = {"off": "E,F,W,DJS1", "on": "E,F,W,DJS1,DJS2"}


def build_index(root: Path, cache_dir: Path) -> tuple[int, float]:
    """Read the facts of every module under ``root``; (modules, CPU seconds)."""
    from flake8_django_safety.project.index import ProjectIndex

    index = ProjectIndex(root, cache_dir)
    start = time.process_time()
    count = 0
    for path in sorted(root.rglob("*.py")):
        name = index.module_name(path)
        if name is not None and index.module(name) is not None:
            count += 1
    return count, time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the project root (the folder with its marker file)")
    parser.add_argument("files", nargs="+", type=Path, help="files to lint one at a time, relative to root")
    parser.add_argument("--runs", type=int, default=7, help="runs per file and configuration (default 7)")
    parser.add_argument(
        "--flake8",
        default=str(Path(sys.executable).with_name("flake8")),
        help="the flake8 executable (default: next to this Python)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()

    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "flake8-django-safety" / "index"  # where the plugin looks
        modules, cold = build_index(root, cache)
        _, warm = build_index(root, cache)
        print(f"index of {root.name}: {modules} modules, cold build {cold:.2f} s CPU, warm {warm:.2f} s CPU")

        env = dict(os.environ, XDG_CACHE_HOME=scratch)  # the plugin's cache lives under here
        print(f"| file | lines | `{CONFIGS['off']}` | `{CONFIGS['on']}` | ratio |")
        print("|---|---:|---:|---:|---:|")
        for relative in args.files:
            target = root / relative
            for select in CONFIGS.values():  # warm-up: bytecode and index cache
                cpu(args.flake8, select, str(target), env)
            times: dict[str, list[float]] = {key: [] for key in CONFIGS}
            for run in range(args.runs):
                order = list(CONFIGS.items()) if run % 2 == 0 else list(reversed(CONFIGS.items()))
                for key, select in order:
                    times[key].append(cpu(args.flake8, select, str(target), env))
            off, on = (statistics.median(times[key]) for key in CONFIGS)
            lines = sum(1 for _ in target.open("rb"))
            print(f"| `{relative}` | {lines} | {off:.3f} s | {on:.3f} s | {on / off:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
