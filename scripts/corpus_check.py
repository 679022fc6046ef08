#!/usr/bin/env python3
"""Run every flake8-django-safety rule over real code and report crashes and bad fixes.

The corpus check is how we learn, before users do, that a rule raises on real
code, that a fix produces code that does not parse or does not settle, or that
a rule reports too much. It never writes a scanned file.

Usage::

    # folders already on disk (an unpacked wheel, a checkout ...)
    python scripts/corpus_check.py ~/src/netbox ~/src/saleor

    # projects from PyPI: ``pip download --no-deps`` into a cache outside the
    # repository, unpacked there once and reused on later runs
    python scripts/corpus_check.py --pypi Django==5.2.19 --pypi wagtail

    # every finding, one per line, with its source line; JSON for later audits
    python scripts/corpus_check.py --list --select DJS1 --json out.json FOLDER

For each ``.py`` file the script reads the bytes, decodes them the way flake8
does (``tokenize.detect_encoding``, universal newlines; a file that cannot be
decoded counts as *unreadable*), lints the text with ALL registered rules
(off-by-default ones included) through ``Engine.lint_text`` and checks that
libcst can parse the file (a ``ParseFailure`` counts as *unparsable*, not as a
crash). A file with fixable findings is fixed in memory twice, with and without
unsafe fixes; each result must parse, must still compile when the original did,
must have converged, and a second fix run over it must apply nothing.

A *crash* is a ``DJS000`` finding or any exception raised while handling a file.
A *bad fix* is a fixed module that does not parse or compile, does not
converge, or is not idempotent. The exit status is 1 when there is any crash or
bad fix, 2 on a usage or download error, and 0 otherwise.

Files are linted under their path relative to the folder given on the command
line, so the folders above it (a cache directory, ``/tmp``) cannot turn a file
into a "test module". Progress goes to stderr; the report goes to stdout.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tokenize
import traceback
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from flake8_django_safety.engine import INTERNAL_ERROR, Engine, ParseFailure, parse
from flake8_django_safety.fixer import FixResult, fix_module
from flake8_django_safety.rule import Safety, Violation, registered_rules
from flake8_django_safety.settings import Settings

DEFAULT_CACHE_DIR = Path("~/.cache/flake8-django-safety/corpus")
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".tox", ".nox", "node_modules"})
SLOWEST = 10

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


# -- results -------------------------------------------------------------------


@dataclass
class Finding:
    """One violation, located and with the stripped source line it is on."""

    path: str
    line: int
    column: int
    code: str
    message: str
    source: str
    fix: str | None  # "safe", "unsafe" or None


@dataclass
class Problem:
    """A crash or a bad fix."""

    path: str
    kind: str
    detail: str


@dataclass
class FileResult:
    """Everything learnt about one file."""

    path: str
    lines: int = 0
    seconds: float = 0.0
    #: "ok", "unparsable" (libcst cannot parse it) or "unreadable" (cannot read/decode).
    status: str = "ok"
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)
    crashes: list[Problem] = field(default_factory=list)
    bad_fixes: list[Problem] = field(default_factory=list)


@dataclass
class RootSummary:
    """Totals for one scanned folder."""

    root: str
    files: int = 0
    lines: int = 0
    unparsable: int = 0
    unreadable: int = 0
    crashes: int = 0
    bad_fixes: int = 0
    findings: int = 0
    wall_seconds: float = 0.0


# -- checking one file ---------------------------------------------------------

_ENGINE: Engine | None = None
_SETTINGS = Settings()


def configure(settings: Settings) -> None:
    """The settings the rules run with in this process (``--django-target-version``)."""
    global _ENGINE, _SETTINGS
    _SETTINGS, _ENGINE = settings, None


def _engine() -> Engine:
    """All registered rules, off-by-default ones included, with default settings
    (but for ``--django-target-version``)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine(registered_rules().values(), _SETTINGS)
    return _ENGINE


def decode_like_flake8(raw: bytes) -> str:
    """Decode source bytes as ``tokenize.open`` does (what flake8 reads).

    Raises ``SyntaxError`` or ``UnicodeError`` (or ``LookupError`` for an
    unknown coding cookie) when the bytes cannot be decoded.
    """
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    wrapper = io.TextIOWrapper(io.BytesIO(raw), encoding, line_buffering=True)
    return wrapper.read()


def count_lines(text: str | bytes) -> int:
    """Lines as an editor counts them (a last line without a newline counts)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def check_file(path: str, lint_name: str, parse_all: bool = True) -> FileResult:
    """Lint and dry-run-fix one file; never raises, never writes."""
    result = FileResult(path)
    start = time.perf_counter()
    try:
        _check_file(path, lint_name, parse_all, result)
    except Exception as error:  # noqa: BLE001 - every exception is a finding of this script
        result.crashes.append(Problem(path, "exception", _format_exception(error)))
    result.seconds = time.perf_counter() - start
    return result


def _check_file(path: str, lint_name: str, parse_all: bool, result: FileResult) -> None:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        result.status, result.reason = "unreadable", f"cannot read: {error.strerror}"
        return
    try:
        text = decode_like_flake8(raw)
    except (SyntaxError, UnicodeError, LookupError) as error:
        result.lines = count_lines(raw)
        result.status, result.reason = "unreadable", f"cannot decode: {error}"
        return
    result.lines = count_lines(text)
    engine = _engine()
    lines = text.splitlines()

    try:
        violations = engine.lint_text(text, lint_name)
    except Exception as error:  # noqa: BLE001
        result.crashes.append(Problem(path, "exception in lint_text", _format_exception(error)))
        violations = []
    for violation in violations:
        result.findings.append(_finding(path, violation, lines))
        if violation.code == INTERNAL_ERROR:
            detail = violation.message + _rule_traceback(engine, text, lint_name, violation.message)
            result.crashes.append(Problem(path, INTERNAL_ERROR, detail))

    fixable = [v for v in violations if v.fix is not None]
    if not (parse_all or fixable):
        return
    try:
        module = parse(raw)
    except ParseFailure as error:
        result.status, result.reason = "unparsable", str(error)
        if fixable:  # lint_text parsed the decoded text, the fixer could not parse the bytes
            result.bad_fixes.append(
                Problem(path, "unfixable", f"findings have fixes but the bytes do not parse: {error}")
            )
        return
    if not fixable:
        return
    compiles = _compile_error(raw) is None
    for unsafe in (True, False):
        _check_fix(engine, module, path, lint_name, unsafe, compiles, result)


def _check_fix(
    engine: Engine,
    module: Any,
    path: str,
    lint_name: str,
    unsafe: bool,
    compiles: bool,
    result: FileResult,
) -> None:
    mode = "unsafe" if unsafe else "safe-only"
    try:
        fixed = fix_module(engine, module, lint_name, unsafe=unsafe)
    except ParseFailure as error:
        result.bad_fixes.append(Problem(path, f"{mode}: fix produced unparsable code", str(error)))
        return
    except Exception as error:  # noqa: BLE001
        result.crashes.append(Problem(path, f"exception in fix_module ({mode})", _format_exception(error)))
        return
    _internal_errors(fixed, path, mode, result)
    if not fixed.converged:
        result.bad_fixes.append(Problem(path, f"{mode}: not converged", _remaining(fixed)))
    if not fixed.applied:
        return
    data = fixed.module.bytes
    try:
        again = parse(data)
    except ParseFailure as error:
        result.bad_fixes.append(Problem(path, f"{mode}: fixed code does not parse", str(error)))
        return
    error_after = _compile_error(data) if compiles else None
    if error_after is not None:
        result.bad_fixes.append(Problem(path, f"{mode}: fixed code does not compile", error_after))
    try:
        second = fix_module(engine, again, lint_name, unsafe=unsafe)
    except ParseFailure as error:
        result.bad_fixes.append(Problem(path, f"{mode}: second fix produced unparsable code", str(error)))
        return
    except Exception as error:  # noqa: BLE001
        result.crashes.append(
            Problem(path, f"exception in second fix_module ({mode})", _format_exception(error))
        )
        return
    _internal_errors(second, path, mode, result)
    if second.applied:
        result.bad_fixes.append(
            Problem(
                path,
                f"{mode}: not idempotent",
                f"a second run applied {second.applied} more fix(es); {_remaining(second)}",
            )
        )


def _rule_traceback(engine: Engine, text: str, name: str, message: str) -> str:
    """Re-run the rule named in a DJS000 message alone, to recover its traceback.

    The engine keeps only the exception of a failed rule; the traceback is what
    a bug report needs. A throw-away subclass (it sets no ``code`` of its own,
    so it is not registered) records the first exception its visitors raise.
    Best effort: returns "" when the failure does not recur.
    """
    rule = registered_rules().get(message.split(" ", 1)[0])
    if rule is None:
        return ""
    caught: list[BaseException] = []

    class Recorder(rule):  # type: ignore[valid-type,misc]
        def _guarded(self, method: Any, *args: Any) -> Any:
            try:
                return method(*args)
            except Exception as error:
                caught.append(error)
                raise

    try:
        engine.lint_module(parse(text), name, [Recorder])
    except Exception as error:  # noqa: BLE001
        caught.append(error)
    return "\n" + _format_exception(caught[0], last_frames=8) if caught else ""


def _internal_errors(fixed: FixResult, path: str, mode: str, result: FileResult) -> None:
    for violation in fixed.remaining:
        if violation.code == INTERNAL_ERROR:
            problem = Problem(path, f"{INTERNAL_ERROR} while fixing ({mode})", violation.message)
            if problem not in result.crashes:
                result.crashes.append(problem)


def _remaining(fixed: FixResult) -> str:
    codes = Counter(v.code for v in fixed.remaining if v.fix is not None)
    return "fixable findings left: " + (", ".join(f"{c} x{n}" for c, n in sorted(codes.items())) or "none")


def _compile_error(data: bytes) -> str | None:
    """Why CPython's own parser rejects ``data``, or None when it accepts it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def _finding(path: str, violation: Violation, lines: list[str]) -> Finding:
    source = lines[violation.line - 1].strip() if 0 < violation.line <= len(lines) else ""
    fix = None
    if violation.fix is not None:
        fix = "safe" if violation.fix.safety is Safety.SAFE else "unsafe"
    return Finding(path, violation.line, violation.column, violation.code, violation.message, source, fix)


def _format_exception(error: BaseException, last_frames: int | None = None) -> str:
    """The traceback as text; ``last_frames`` keeps only the innermost frames."""
    limit = -last_frames if last_frames else None
    lines = traceback.format_exception(type(error), error, error.__traceback__, limit=limit)
    return "".join(lines).rstrip()


# -- finding the files -----------------------------------------------------------


def python_files(root: Path) -> Iterator[Path]:
    """``.py`` files under ``root`` (or ``root`` itself), sorted, not following links."""
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder) / name


def lint_name(root: Path, path: Path) -> str:
    """The file name rules see: the absolute path, so cross-file rules find the
    project root (the nearest folder upward with manage.py, setup.cfg, ...)."""
    return str(path.resolve())


# -- PyPI projects ---------------------------------------------------------------

_SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([A-Za-z0-9.+!_-]+))?\s*$")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".zip")


def normalise_name(name: str) -> str:
    """PEP 503 normalisation, with ``_`` as separator as in wheel file names."""
    return re.sub(r"[-_.]+", "_", name).lower()


def archive_name_version(filename: str) -> tuple[str, str] | None:
    """``Django-5.2.19-py3-none-any.whl`` -> ("django", "5.2.19")."""
    for suffix in _ARCHIVES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            break
    else:
        return None
    if filename.endswith(".whl"):
        parts = stem.split("-")
        if len(parts) < 5:
            return None
        return normalise_name(parts[0]), parts[1]
    name, sep, version = stem.rpartition("-")
    return (normalise_name(name), version) if sep else None


def fetch_pypi(spec: str, cache_dir: Path, pip_args: Sequence[str], out: TextIO) -> Path:
    """The unpacked copy of ``spec`` in ``cache_dir/src``, downloading it if needed."""
    match = _SPEC.match(spec)
    if match is None:
        raise ValueError(f"not a NAME or NAME==VERSION requirement: {spec!r}")
    name, version = normalise_name(match.group(1)), match.group(2)
    unpacked_dir = cache_dir / "src"
    if version is not None:
        existing = unpacked_dir / f"{name}-{version}"
        if existing.is_dir():
            print(f"corpus: reusing {existing}", file=out)
            return existing
    archive = _download(spec, cache_dir / "dl", pip_args, out)
    parsed = archive_name_version(archive.name)
    if parsed is None:
        raise ValueError(f"cannot tell name and version from {archive.name}")
    target = unpacked_dir / f"{parsed[0]}-{parsed[1]}"
    if target.is_dir():
        print(f"corpus: reusing {target}", file=out)
        return target
    print(f"corpus: unpacking {archive.name} into {target}", file=out)
    unpack(archive, target)
    return target


def _download(spec: str, dl_dir: Path, pip_args: Sequence[str], out: TextIO) -> Path:
    """``pip download --no-deps``: a wheel if there is one, else the sdist."""
    dl_dir.mkdir(parents=True, exist_ok=True)
    attempts = (["--only-binary", ":all:"], ["--no-binary", ":all:"])
    errors = []
    for extra in attempts:
        with tempfile.TemporaryDirectory(dir=dl_dir, prefix=".download-") as scratch:
            command = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                "--quiet", "--dest", scratch, *extra, *pip_args, spec,
            ]  # fmt: skip
            print(f"corpus: pip download --no-deps {' '.join(extra)} {spec}", file=out)
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            found = [p for p in Path(scratch).iterdir() if p.name.endswith(_ARCHIVES)]
            if done.returncode == 0 and len(found) == 1:
                final = dl_dir / found[0].name
                shutil.move(str(found[0]), final)
                return final
            output = (done.stderr or done.stdout).strip().splitlines()
            errors.append(output[-1] if output else f"no archive (exit status {done.returncode})")
    raise RuntimeError(f"pip download failed: {' / '.join(dict.fromkeys(errors))}")


def unpack(archive: Path, target: Path) -> None:
    """Unpack a wheel or sdist into ``target`` (atomically: a half copy is never reused)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        if archive.name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(scratch)  # zipfile drops absolute paths and ".."
        else:
            with tarfile.open(archive) as tarred:
                if hasattr(tarfile, "data_filter"):
                    tarred.extractall(scratch, filter="data")
                else:  # Python < 3.10.12 / 3.11.4: check the members ourselves
                    _safe_members(tarred, scratch)
                    tarred.extractall(scratch)
        # A wheel carries no project marker; its unpacked folder is the project
        # root the cross-file rules need (sdists usually bring setup.cfg or
        # pyproject.toml of their own).
        marker = scratch / "setup.cfg"
        if not any((scratch / name).exists() for name in ("setup.cfg", "pyproject.toml", "manage.py")):
            marker.write_text("# marks the project root for flake8-django-safety\n")
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _safe_members(tarred: tarfile.TarFile, scratch: Path) -> None:
    base = scratch.resolve()
    for member in tarred.getmembers():
        destination = (base / member.name).resolve()
        if base not in destination.parents and destination != base:
            raise ValueError(f"unsafe path in archive: {member.name}")
        if member.issym() or member.islnk() or member.isdev():
            raise ValueError(f"link or device in archive: {member.name}")


# -- running ---------------------------------------------------------------------


class Progress:
    """A one-line counter on stderr: redrawn on a terminal, every few seconds otherwise."""

    def __init__(self, total: int, out: TextIO, quiet: bool) -> None:
        self.total, self.out, self.quiet = total, out, quiet
        self.done = 0
        self.tty = out.isatty()
        self.last = 0.0
        self.start = time.perf_counter()

    def step(self, root: str) -> None:
        self.done += 1
        if self.quiet:
            return
        now = time.perf_counter()
        if self.done != self.total and now - self.last < (0.2 if self.tty else 10.0):
            return
        self.last = now
        line = f"[{self.done}/{self.total}] {now - self.start:6.1f}s {root}"
        if self.tty:
            self.out.write(f"\r\x1b[K{line}")
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.tty and not self.quiet:
            self.out.write("\n")
            self.out.flush()


def run(
    roots: Sequence[Path], jobs: int, parse_all: bool, progress_out: TextIO, quiet: bool
) -> tuple[list[FileResult], list[RootSummary]]:
    """Check every file of every root; roots one after another, files in parallel."""
    plan = [(root, list(python_files(root))) for root in roots]
    progress = Progress(sum(len(files) for _, files in plan), progress_out, quiet)
    results: list[FileResult] = []
    summaries: list[RootSummary] = []
    executor = (
        concurrent.futures.ProcessPoolExecutor(jobs, initializer=configure, initargs=(_SETTINGS,))
        if jobs > 1
        else None
    )
    try:
        for root, files in plan:
            summary = RootSummary(str(root))
            start = time.perf_counter()
            args = [(str(path), lint_name(root, path), parse_all) for path in files]
            if executor is None:
                iterator: Iterable[FileResult] = (check_file(*a) for a in args)
            else:
                iterator = executor.map(_check_args, args, chunksize=8)
            for result in iterator:
                progress.step(str(root))
                results.append(result)
                _add(summary, result)
            summary.wall_seconds = time.perf_counter() - start
            summaries.append(summary)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
        progress.finish()
    return results, summaries


def _check_args(args: tuple[str, str, bool]) -> FileResult:
    return check_file(*args)


def _add(summary: RootSummary, result: FileResult) -> None:
    summary.files += 1
    summary.lines += result.lines
    summary.unparsable += result.status == "unparsable"
    summary.unreadable += result.status == "unreadable"
    summary.crashes += len(result.crashes)
    summary.bad_fixes += len(result.bad_fixes)
    summary.findings += len(result.findings)


# -- reporting -------------------------------------------------------------------


def report(
    results: list[FileResult],
    summaries: list[RootSummary],
    total_seconds: float,
    out: TextIO,
    listing: bool,
    select: tuple[str, ...],
) -> None:
    findings = [f for r in results for f in r.findings]
    crashes = [p for r in results for p in r.crashes]
    bad_fixes = [p for r in results for p in r.bad_fixes]
    if listing:
        for f in findings:
            if not select or f.code.startswith(select):
                print(f"{f.path}:{f.line}:{f.column + 1}: {f.code} {f.message}", file=out)
                print(f"    {f.source}", file=out)
        print(file=out)

    files = sum(s.files for s in summaries)
    lines = sum(s.lines for s in summaries)
    print(
        f"scanned {files} files, {lines} lines in {len(summaries)} folder(s), {total_seconds:.1f} s",
        file=out,
    )
    width = max([len(s.root) for s in summaries] + [6])
    header = (
        "folder".ljust(width), "files", "lines", "unparsable", "unreadable",
        "crashes", "bad fixes", "findings", "wall s",
    )  # fmt: skip
    print("  " + "  ".join(header), file=out)
    for s in summaries:
        cells = (
            s.root.ljust(width), s.files, s.lines, s.unparsable, s.unreadable,
            s.crashes, s.bad_fixes, s.findings, f"{s.wall_seconds:.1f}",
        )  # fmt: skip
        print("  " + "  ".join(str(c).rjust(len(h)) for c, h in zip(cells, header)), file=out)

    print("findings per code:", file=out)
    counts = Counter(f.code for f in findings)
    for code in registered_rules():
        print(f"  {code}  {counts.pop(code, 0)}", file=out)
    for code, count in sorted(counts.items()):
        print(f"  {code}  {count}", file=out)

    unparsable = [r for r in results if r.status == "unparsable"]
    unreadable = [r for r in results if r.status == "unreadable"]
    print(f"unparsable (libcst ParseFailure, not a crash): {len(unparsable)}", file=out)
    for r in unparsable:
        print(f"  {r.path}: {r.reason}", file=out)
    print(f"unreadable (cannot read or decode, not a crash): {len(unreadable)}", file=out)
    for r in unreadable:
        print(f"  {r.path}: {r.reason}", file=out)
    print(f"crashes: {len(crashes)}", file=out)
    for p in crashes:
        print(f"  {p.path}: {p.kind}\n" + _indent(p.detail, "    "), file=out)
    print(f"bad fixes: {len(bad_fixes)}", file=out)
    for p in bad_fixes:
        print(f"  {p.path}: {p.kind}: {p.detail}", file=out)
    print(f"slowest {SLOWEST} files:", file=out)
    for r in sorted(results, key=lambda r: r.seconds, reverse=True)[:SLOWEST]:
        print(f"  {r.seconds:7.3f} s  {r.path} ({r.lines} lines)", file=out)
    print(f"total time: {total_seconds:.1f} s", file=out)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def write_json(
    path: Path, results: list[FileResult], summaries: list[RootSummary], total_seconds: float
) -> None:
    findings = [asdict(f) for r in results for f in r.findings]
    document = {
        "rules": list(registered_rules()),
        "total_seconds": round(total_seconds, 3),
        "files": sum(s.files for s in summaries),
        "lines": sum(s.lines for s in summaries),
        "folders": [asdict(s) for s in summaries],
        "counts": dict(sorted(Counter(f["code"] for f in findings).items())),
        "findings": findings,
        "crashes": [asdict(p) for r in results for p in r.crashes],
        "bad_fixes": [asdict(p) for r in results for p in r.bad_fixes],
        "unparsable": [{"path": r.path, "reason": r.reason} for r in results if r.status == "unparsable"],
        "unreadable": [{"path": r.path, "reason": r.reason} for r in results if r.status == "unreadable"],
        "slowest": [
            {"path": r.path, "seconds": round(r.seconds, 4), "lines": r.lines}
            for r in sorted(results, key=lambda r: r.seconds, reverse=True)[:SLOWEST]
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# -- command line ----------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="corpus_check.py",
        description="Lint real code with every flake8-django-safety rule, dry-run every fix, "
        "and report crashes, bad fixes, counts per code and the slowest files. Never writes "
        "a scanned file. Exit status: 1 on any crash or bad fix, 2 on usage/download errors.",
    )
    parser.add_argument("folders", nargs="*", type=Path, help="folders (or .py files) to scan")
    parser.add_argument(
        "--pypi", action="append", default=[], metavar="NAME[==VER]",
        help="pip download --no-deps this project (wheel preferred, else sdist), unpack it "
        "into the cache and scan it; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
        help=f"where --pypi downloads (dl/) and unpacks (src/) projects (default: {DEFAULT_CACHE_DIR})",
    )  # fmt: skip
    parser.add_argument(
        "--pip-arg", action="append", default=[], metavar="ARG",
        help="extra argument for pip download, e.g. --pip-arg=--index-url=URL; repeatable",
    )  # fmt: skip
    parser.add_argument("--list", action="store_true", help="print every finding with its source line")
    parser.add_argument(
        "--select", default="", metavar="PREFIXES",
        help="comma-separated code prefixes the --list output is limited to (e.g. DJS1,DJS301)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="write everything as JSON to FILE")
    parser.add_argument(
        "-j", "--jobs", type=int, default=1,
        help="worker processes (default 1, which keeps per-file timings comparable)",
    )  # fmt: skip
    parser.add_argument(
        "--no-parse-all", dest="parse_all", action="store_false",
        help="parse with libcst only files that the rules' prefilters admit (faster; the "
        "unparsable count then covers only those)",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--django-target-version", default="", metavar="VERSION",
        help="the plugin's --django-target-version (e.g. 3.2), for the rules that depend on it",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not args.folders and not args.pypi:
        parser.error("give at least one folder or --pypi project")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    missing = [str(f) for f in args.folders if not f.exists()]
    if missing:
        parser.error(f"no such file or folder: {', '.join(missing)}")
    try:
        configure(Settings(django_target_version=args.django_target_version))
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    roots: list[Path] = list(args.folders)
    cache_dir = args.cache_dir.expanduser().resolve()
    for spec in args.pypi:
        try:
            roots.append(fetch_pypi(spec, cache_dir, args.pip_arg, sys.stderr))
        except (OSError, ValueError, RuntimeError, zipfile.BadZipFile, tarfile.TarError) as error:
            print(f"corpus_check: cannot get {spec}: {error}", file=sys.stderr)
            return EXIT_USAGE
    start = time.perf_counter()
    results, summaries = run(roots, args.jobs, args.parse_all, sys.stderr, args.quiet)
    total = time.perf_counter() - start
    select = tuple(p.strip() for p in args.select.split(",") if p.strip())
    report(results, summaries, total, sys.stdout, args.list, select)
    if args.json is not None:
        write_json(args.json, results, summaries, total)
    failed = any(r.crashes or r.bad_fixes for r in results)
    return EXIT_FAILURES if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
