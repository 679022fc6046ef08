#!/usr/bin/env python3
"""Time flake8-django-safety against flake8's own checks and flake8-django.

Every configuration is one flake8 command run on the same target folder:

    a  ours    flake8 --select=E,F,W        (our plugin installed, not selected)
    b  ours    flake8 --select=E,F,W,DJS
    c  ours    flake8 --select=DJS
    d  plain   flake8 --select=E,F,W        (same flake8, our plugin NOT installed)
    e  fd      flake8 --select=DJ           (flake8-django 1.4 and the flake8 it pins)
    f  fd      flake8 --select=E,F,W,DJ
    g  fd      flake8 --select=E,F,W        (flake8-django installed, not selected)

flake8 runs every installed plugin whatever ``--select`` says and filters the
results afterwards, so (c) still pays for pycodestyle and pyflakes, and
flake8-django does its work in (g) too. Our plugin asks flake8 which of its
codes are selected and returns at once when none is: (a) / (d) shows that.

Each command runs with ``--isolated --exit-zero --jobs=N`` and its output goes
to /dev/null. CPU time is user+sys of the whole child process tree, from
``resource.getrusage(RUSAGE_CHILDREN)`` deltas around ``subprocess.run``; wall
time is measured too. Configurations are interleaved (rotated) across runs to
spread drift, and medians are reported with ratios to (a).

The three virtual environments are created under ``--cache-dir`` when missing:
``ours`` gets flake8 and ``pip install -e <repo>``, ``plain`` gets the same
flake8 version without our plugin, ``fd`` gets flake8-django 1.4. The
corpora are pinned wheels, unpacked under ``--corpus-dir`` when missing.

Results go into benchmarks/README.md between the ``results`` markers (the
prose around them is kept); ``--dry-run`` only prints what would run.
``--prefilter-stats`` also counts, per target, the files that at least one
rule's text prefilter admits (those are the files libcst parses).

Standard library only; Python >= 3.10.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path("~/.cache/flake8-django-safety/bench").expanduser()
DEFAULT_OUTPUT = REPO / "benchmarks" / "README.md"
START_MARK = "<!-- results:start -->"
END_MARK = "<!-- results:end -->"

FLAKE8_DJANGO = "flake8-django==1.4"
# Pinned wheels: name -> (requirement, folder inside the unpacked wheel).
CORPORA = {
    "django": ("Django==5.2.19", "django"),
    "wagtail": ("wagtail==8.0.1", "wagtail"),
    "pretix": ("pretix==2026.8.0", "pretix"),
}
DEFAULT_TARGETS = ("django", "wagtail")
# flake8's default --exclude; used when counting lines and files.
EXCLUDED_DIRS = {".svn", "CVS", ".bzr", ".hg", ".git", "__pycache__", ".tox", ".nox", ".eggs"}
# Django's own source: the acceptance target for (b) / (a).
DJANGO_TARGET = "django"
MAX_RATIO_DJANGO = 1.15
NO_WORK_TOLERANCE = 0.03


@dataclass(frozen=True)
class Config:
    key: str
    env: str
    select: str
    meaning: str


CONFIGS = (
    Config("a", "ours", "E,F,W", "flake8's own checks, our plugin installed"),
    Config("b", "ours", "E,F,W,DJS", "flake8's own checks + ours"),
    Config("c", "ours", "DJS", "ours only"),
    Config("d", "plain", "E,F,W", "flake8's own checks, our plugin not installed"),
    Config("e", "fd", "DJ", "flake8-django only"),
    Config("f", "fd", "E,F,W,DJ", "flake8's own checks + flake8-django"),
    Config("g", "fd", "E,F,W", "flake8's own checks, flake8-django installed"),
)
BASELINE = {"ours": "a", "plain": "d", "fd": "g"}


@dataclass
class Target:
    label: str
    path: Path
    files: int = 0
    lines: int = 0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before/after
    commits: tuple[str, str] = ("", "")  # this repo's `git describe` before/after
    runs: int = 0


@dataclass
class Result:
    config: Config
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def venv_flake8(venv: Path) -> Path:
    return venv / "bin" / "flake8"


def run_logged(command: list[str], dry_run: bool) -> None:
    log("+ " + shlex.join(command))
    if not dry_run:
        subprocess.run(command, check=True)


def dist_versions(python: Path, names: list[str]) -> dict[str, str]:
    """Installed versions of ``names`` in the environment of ``python``."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n"
        "        out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(python), "-c", code, *names], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def ensure_venvs(args: argparse.Namespace, needed: set[str]) -> dict[str, Path]:
    """Create the missing virtual environments; return env name -> venv folder."""
    cache: Path = args.cache_dir
    venvs = {
        "ours": args.ours_venv or cache / "ours",
        "plain": cache / "plain",
        "fd": cache / "flake8-django",
    }
    ours = venvs["ours"]
    if not venv_flake8(ours).exists():
        log(f"creating venv {ours} (flake8 + this repo, editable)")
        run_logged([sys.executable, "-m", "venv", str(ours)], args.dry_run)
        run_logged(
            [str(venv_python(ours)), "-m", "pip", "install", "--quiet", "flake8", "-e", str(REPO)],
            args.dry_run,
        )
    if "plain" in needed and not venv_flake8(venvs["plain"]).exists():
        if args.dry_run and not venv_python(ours).exists():
            pin = "flake8==<the version in the ours venv>"
        else:
            pin = "flake8==" + dist_versions(venv_python(ours), ["flake8"])["flake8"]
        log(f"creating venv {venvs['plain']} ({pin}, without our plugin)")
        run_logged([sys.executable, "-m", "venv", str(venvs["plain"])], args.dry_run)
        run_logged(
            [str(venv_python(venvs["plain"])), "-m", "pip", "install", "--quiet", pin],
            args.dry_run,
        )
    if "fd" in needed and not venv_flake8(venvs["fd"]).exists():
        log(f"creating venv {venvs['fd']} ({FLAKE8_DJANGO} and the flake8 it pins)")
        run_logged([sys.executable, "-m", "venv", str(venvs["fd"])], args.dry_run)
        run_logged(
            [str(venv_python(venvs["fd"])), "-m", "pip", "install", "--quiet", FLAKE8_DJANGO],
            args.dry_run,
        )
    return venvs


def ensure_corpus(label: str, corpus_dir: Path, dry_run: bool) -> Path:
    """The folder of a pinned corpus, unpacked from its wheel when missing."""
    requirement, package = CORPORA[label]
    home = corpus_dir / label
    target = home / package
    if target.is_dir() or dry_run:
        if not target.is_dir():
            log(f"would download {requirement} (wheel, no dependencies) into {home}")
        return target
    log(f"downloading {requirement} (wheel, no dependencies) into {home}")
    with tempfile.TemporaryDirectory() as tmp:
        run_logged(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", tmp, requirement],
            dry_run=False,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"expected one wheel for {requirement}, got {wheels}")
        home.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as archive:
            archive.extractall(home)
    return target


def python_files(root: Path) -> list[Path]:
    """The files flake8 checks in ``root`` with its default --filename/--exclude."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS and not d.endswith(".egg"))
        found.extend(Path(folder, name) for name in sorted(files) if name.endswith(".py"))
    return found


def count_lines(target: Target) -> None:
    files = python_files(target.path)
    target.files = len(files)
    target.lines = sum(path.read_bytes().count(b"\n") for path in files)


def flake8_command(venv: Path, config: Config, jobs: int, path: Path) -> list[str]:
    return [
        str(venv_flake8(venv)),
        "--isolated",
        f"--jobs={jobs}",
        "--exit-zero",
        f"--select={config.select}",
        str(path),
    ]


# Children may write bytecode: with PYTHONDONTWRITEBYTECODE set, every run would
# compile libcst, astroid, pycodestyle... from source again, which users never pay.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds of the child tree, wall seconds) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=CHILD_ENV, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def measure(
    target: Target, configs: list[Config], venvs: dict[str, Path], args: argparse.Namespace
) -> dict[str, Result]:
    results = {config.key: Result(config) for config in configs}
    commands = {c.key: flake8_command(venvs[c.env], c, args.jobs, target.path) for c in configs}
    # Warm-up on one small file per configuration: byte-compiles and page-caches
    # the environment's imports so that run 1 is not special.
    files = python_files(target.path)
    sample = min(files, key=lambda p: (p.stat().st_size < 2000, p.stat().st_size))
    for config in configs:
        command = flake8_command(venvs[config.env], config, 1, sample)
        if args.dry_run:
            log("warm-up: " + shlex.join(command))
        else:
            timed(command, target.path.parent)
    load_before = os.getloadavg()[0]
    commit_before = repo_commit()
    target.runs = args.runs
    for run in range(args.runs):
        shift = run % len(configs)
        for config in configs[shift:] + configs[:shift]:
            command = commands[config.key]
            if args.dry_run:
                if run == 0:
                    print(shlex.join(command))
                continue
            cpu, wall = timed(command, target.path.parent)
            results[config.key].cpu.append(cpu)
            results[config.key].wall.append(wall)
            log(
                f"{target.label} run {run + 1}/{args.runs} ({config.key}) "
                f"--select={config.select:<10} [{config.env}] cpu {cpu:7.2f} s  wall {wall:7.2f} s"
            )
    target.load = (load_before, os.getloadavg()[0])
    target.commits = (commit_before, repo_commit())
    return results


PREFILTER_CODE = r"""
import json, sys, time, tokenize
from flake8_django_safety.engine import Engine
from flake8_django_safety.rule import registered_rules

rules = registered_rules()
everything = Engine(rules.values())
default = Engine([r for r in rules.values() if r.default_enabled])
out = {"files": 0, "admitted_all": 0, "admitted_default": 0, "unreadable": 0,
       "per_rule": {code: 0 for code in rules}, "seconds": 0.0}
for filename in sys.stdin.read().splitlines():
    try:
        with tokenize.open(filename) as handle:
            text = handle.read()
    except (SyntaxError, UnicodeError, OSError):
        out["unreadable"] += 1
        continue
    out["files"] += 1
    start = time.process_time()
    admitted = everything.rules_for(filename, text)
    out["seconds"] += time.process_time() - start
    if admitted:
        out["admitted_all"] += 1
    for rule in admitted:
        out["per_rule"][rule.code] += 1
    if default.rules_for(filename, text):
        out["admitted_default"] += 1
print(json.dumps(out))
"""


def prefilter_stats(target: Target, venv: Path, dry_run: bool) -> dict | None:
    """How many files of ``target`` the rules' text prefilters let through."""
    if dry_run:
        log(f"would count prefilter passes over {target.path} in {venv}")
        return None
    names = "\n".join(str(path) for path in python_files(target.path))
    done = subprocess.run(
        [str(venv_python(venv)), "-c", PREFILTER_CODE],
        input=names, check=True, capture_output=True, text=True,
    )
    return json.loads(done.stdout)


def machine_facts(venvs: dict[str, Path], needed: set[str]) -> list[str]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facts = [
        f"- Machine: {platform.system()} {platform.machine()}, {usable} usable CPUs"
        + (f" ({cpu_model})" if cpu_model else ""),
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
    ]
    names = {
        "ours": ["flake8", "pycodestyle", "pyflakes", "flake8-django-safety", "libcst"],
        "plain": ["flake8", "pycodestyle", "pyflakes"],
        "fd": ["flake8", "pycodestyle", "pyflakes", "flake8-django", "astroid"],
    }
    for env in ("ours", "plain", "fd"):
        if env not in needed or not venv_python(venvs[env]).exists():
            continue
        versions = dist_versions(venv_python(venvs[env]), names[env])
        shown = ", ".join(f"{name} {version}" for name, version in versions.items())
        facts.append(f"- `{env}` venv: {shown}")
    return facts


def repo_commit() -> str:
    """This repository's ``git describe --always --dirty``, or '' without git."""
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def render(
    targets: list[Target],
    all_results: dict[str, dict[str, Result]],
    prefilter: dict[str, dict | None],
    facts: list[str],
    args: argparse.Namespace,
) -> str:
    today = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    command = "python benchmarks/run.py " + shlex.join(sys.argv[1:])
    lines = [
        START_MARK,
        "",
        f"Measured {today}, `--jobs={args.jobs}`; runs per configuration: "
        + ", ".join(f"{t.label} {t.runs}" for t in targets) + ".",
        "",
        *facts,
        "- flake8-django-safety source (`git describe` before/after the runs): "
        + ", ".join(
            f"{t.label} {t.commits[0]}"
            + ("" if t.commits[0] == t.commits[1] else f" -> {t.commits[1]} (CHANGED meanwhile)")
            for t in targets
        ),
        "",
        "Reproduce (from the repository root):",
        "",
        "```sh",
        command.rstrip(),
        "```",
        "",
        "| Target | Files | Lines | Config | venv | `--select` | CPU s (median) | CPU s (min-max)"
        " | Wall s (median) | x (a) | x E,F,W of its venv |",
        "|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    lines.insert(
        lines.index("Reproduce (from the repository root):") - 1,
        "- 1-minute load average before/after the runs (a busy machine skews the numbers): "
        + ", ".join(f"{t.label} {t.load[0]:.2f}/{t.load[1]:.2f}" for t in targets),
    )
    verdicts = []
    for target in targets:
        results = all_results[target.label]
        base_a = results["a"].cpu_median if "a" in results else None
        for key, result in results.items():
            config = result.config
            base_key = BASELINE[config.env]
            base_env = results[base_key].cpu_median if base_key in results else None
            lines.append(
                f"| {target.label} | {target.files:,} | {target.lines:,} | ({key}) "
                f"| {config.env} | `{config.select}` | {result.cpu_median:.2f} "
                f"| {min(result.cpu):.2f}-{max(result.cpu):.2f} | {result.wall_median:.2f} "
                f"| {ratio(result.cpu_median, base_a)} "
                f"| {ratio(result.cpu_median, base_env)} |"
            )
        if {"a", "d"} <= results.keys():
            no_work = results["a"].cpu_median / results["d"].cpu_median
            met = no_work <= 1 + NO_WORK_TOLERANCE
            verdicts.append(
                f"- {target.label}: (a) / (d) = {no_work:.3f}: our plugin installed but not"
                f" selected costs {'nothing measurable' if met else 'MORE than noise'}"
                f" (target <= {1 + NO_WORK_TOLERANCE:.2f}) - **{'met' if met else 'NOT met'}**."
            )
        if {"a", "b"} <= results.keys():
            cost = results["b"].cpu_median / results["a"].cpu_median
            line = f"- {target.label}: (b) / (a) = {cost:.3f}"
            if target.label == DJANGO_TARGET:
                met = cost <= MAX_RATIO_DJANGO
                line += f" (target <= {MAX_RATIO_DJANGO}) - **{'met' if met else 'NOT met'}**."
            else:
                line += " (no target; for information)."
            verdicts.append(line)
        if {"a", "f"} <= results.keys():
            verdicts.append(
                f"- {target.label}: flake8-django (f) / (a) = "
                f"{results['f'].cpu_median / results['a'].cpu_median:.2f}"
                " for comparison (its flake8 and pycodestyle/pyflakes versions differ)."
            )
    if verdicts:
        lines += ["", "Acceptance targets:", "", *verdicts]
    stats = {label: data for label, data in prefilter.items() if data}
    if stats:
        codes = sorted({code for data in stats.values() for code in data["per_rule"]})
        lines += [
            "",
            "Prefilter pass rate (files that at least one rule's text prefilter admits;"
            " only those are parsed with libcst):",
            "",
            "| Target | Files | Admitted, all rules | Admitted, default rules | "
            + " | ".join(codes)
            + " | Prefilter CPU s |",
            "|---|---:|---:|---:|" + "---:|" * len(codes) + "---:|",
        ]
        for label, data in stats.items():
            files = data["files"] or 1
            counts = [data["per_rule"].get(code, 0) for code in codes]
            cells = [f"{count} ({100 * count / files:.1f}%)" for count in counts]
            lines.append(
                f"| {label} | {data['files']:,} "
                f"| {data['admitted_all']} ({100 * data['admitted_all'] / files:.1f}%) "
                f"| {data['admitted_default']} ({100 * data['admitted_default'] / files:.1f}%) | "
                + " | ".join(cells)
                + f" | {data['seconds']:.2f} |"
            )
    lines += ["", END_MARK]
    return "\n".join(lines) + "\n"


README_TEMPLATE = """# Benchmarks

`run.py` times flake8-django-safety against flake8's own checks and flake8-django.
See its `--help`; the results section below is rewritten by each run.

{results}"""


def write_output(path: Path, section: str) -> None:
    if path.exists():
        text = path.read_text()
        if START_MARK in text and END_MARK in text:
            head, rest = text.split(START_MARK, 1)
            tail = rest.split(END_MARK, 1)[1]
            path.write_text(head + section.rstrip("\n") + tail)
            return
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    path.write_text(README_TEMPLATE.format(results=section))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog="Configurations: "
        + "; ".join(f"({c.key}) [{c.env}] --select={c.select}: {c.meaning}" for c in CONFIGS),
    )
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET",
        help=f"a corpus name ({', '.join(CORPORA)}) or LABEL=PATH of any folder"
        f" (default: {' '.join(DEFAULT_TARGETS)})",
    )
    parser.add_argument(
        "--pretix", action="store_true", help="add the pretix corpus to the default targets"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per configuration (default 5)")
    parser.add_argument(
        "--runs-for", action="append", default=[], metavar="LABEL=N",
        help="another number of runs for one target, e.g. wagtail=3 (repeatable)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="flake8 --jobs (default 1)")
    parser.add_argument(
        "--configs", default="".join(c.key for c in CONFIGS),
        help="which configurations to run, as letters (default: all, abcdefg)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE,
        help=f"where the venvs are created (default {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--corpus-dir", type=Path, default=None,
        help="where the pinned corpora are unpacked (default: CACHE_DIR/corpus)",
    )
    parser.add_argument(
        "--ours-venv", type=Path, default=None,
        help="use this existing venv (with flake8 and this repo installed) as `ours`",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT,
        help="Markdown file to write the results into (default benchmarks/README.md)",
    )
    parser.add_argument(
        "--prefilter-stats", action="store_true",
        help="also count the files each target's prefilters admit (in the `ours` venv)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be done and the commands"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")
    unknown = set(args.configs) - {c.key for c in CONFIGS}
    if unknown:
        parser.error(f"unknown configurations: {''.join(sorted(unknown))}")
    args.corpus_dir = args.corpus_dir or args.cache_dir / "corpus"
    overrides = {}
    for item in args.runs_for:
        label, _, number = item.partition("=")
        if not number.isdigit() or int(number) < 1:
            parser.error(f"--runs-for wants LABEL=N, got {item!r}")
        overrides[label] = int(number)
    args.runs_override = overrides
    return args


def resolve_targets(args: argparse.Namespace) -> list[Target]:
    names = list(args.targets) or [*DEFAULT_TARGETS, *(["pretix"] if args.pretix else [])]
    if args.targets and args.pretix and "pretix" not in names:
        names.append("pretix")
    targets = []
    for name in names:
        if "=" in name:
            label, _, path = name.partition("=")
            folder = Path(path).expanduser().resolve()
            if not folder.is_dir():
                raise SystemExit(f"not a folder: {folder}")
            targets.append(Target(label, folder))
        elif name in CORPORA:
            targets.append(Target(name, ensure_corpus(name, args.corpus_dir, args.dry_run)))
        else:
            raise SystemExit(f"unknown target {name!r}: use one of {list(CORPORA)} or LABEL=PATH")
    return targets


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configs = [c for c in CONFIGS if c.key in args.configs]
    needed = {c.env for c in configs} | {"ours"}
    venvs = ensure_venvs(args, needed)
    targets = resolve_targets(args)
    all_results: dict[str, dict[str, Result]] = {}
    prefilter: dict[str, dict | None] = {}
    runs = args.runs
    for target in targets:
        if target.path.is_dir():
            count_lines(target)
            log(f"target {target.label}: {target.path} ({target.files} files,"
                f" {target.lines} lines)")
        args.runs = args.runs_override.get(target.label, runs)
        if target.path.is_dir():
            all_results[target.label] = measure(target, configs, venvs, args)
        if args.prefilter_stats and (target.path.is_dir() or args.dry_run):
            prefilter[target.label] = prefilter_stats(target, venvs["ours"], args.dry_run)
    args.runs = runs
    if args.dry_run:
        return 0
    facts = machine_facts(venvs, needed)
    section = render(targets, all_results, prefilter, facts, args)
    write_output(args.output, section)
    print(section)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
