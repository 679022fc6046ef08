"""CPU cost of `--select` lists on one target, relative to the first.

`run.py` has fixed configurations; this times any lists, the same way (one
flake8 process tree per run, user + sys CPU from `getrusage`, runs interleaved
in rotating order after one warm-up each, medians)::

    python benchmarks/select_ratio.py oscar/ --runs 5 E,F,W E,F,W,DJS1,DJS2 E,F,W,DJS
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
from pathlib import Path


def cpu(flake8: str, select: str, target: str, env: dict[str, str] | None = None) -> float:
    """CPU seconds (user + sys) of one ``flake8 --select=select target`` process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [flake8, "--isolated", "--jobs=1", "--exit-zero", f"--select={select}", target],
        stdout=subprocess.DEVNULL,
        check=True,
        env=env,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="folder or file to lint")
    parser.add_argument("selects", nargs="+", help="--select lists; the first is the baseline")
    parser.add_argument("--runs", type=int, default=5, help="runs per list (default 5)")
    parser.add_argument(
        "--flake8", default=str(Path(sys.executable).with_name("flake8")), help="flake8 executable"
    )
    args = parser.parse_args(argv)
    for select in args.selects:
        cpu(args.flake8, select, args.target)  # warm-up: bytecode and index cache
    times: dict[str, list[float]] = {select: [] for select in args.selects}
    for run in range(args.runs):
        shift = run % len(args.selects)
        for select in args.selects[shift:] + args.selects[:shift]:
            times[select].append(cpu(args.flake8, select, args.target))
    base = statistics.median(times[args.selects[0]])
    print("| `--select` | CPU s (runs) | median | ratio |")
    print("|---|---|---:|---:|")
    for select, values in times.items():
        median = statistics.median(values)
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"| `{select}` | {runs} | {median:.2f} | {median / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
