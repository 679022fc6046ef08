"""The ``flake8-django-safety`` command: ``fix``, ``rules`` and ``explain``.

``fix`` reads the same configuration as the flake8 plugin by letting flake8
parse it (``setup.cfg``, ``tox.ini``, ``.flake8``, ``--config``): selection,
exclusions, every ``django-safety-*`` option and ``django-target-version`` agree
between both front ends.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from flake8_django_safety import __version__
from flake8_django_safety.docs import fix_label, render_rule_page
from flake8_django_safety.engine import Engine, ParseFailure, parse
from flake8_django_safety.fixer import fix_module
from flake8_django_safety.rule import registered_rules

EXIT_OK = 0
#: ``--check`` / ``--diff``: something would change.
EXIT_WOULD_CHANGE = 1
#: Usage errors, unknown codes, files that could not be read or written.
EXIT_ERROR = 2


@dataclass
class Summary:
    """What a ``fix`` run did, for the closing line and the exit status."""

    fixes: int = 0
    files: int = 0
    unsafe_available: int = 0
    remaining: int = 0
    scanned: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def line(self, write: bool) -> str:
        verb = "Fixed" if write else "Would fix"
        text = f"{verb} {_plural(self.fixes, 'finding')} in {_plural(self.files, 'file')}"
        text += f" ({_plural(self.scanned, 'file')} checked)"
        if self.unsafe_available:
            text += f"; {self.unsafe_available} more with --unsafe-fixes"
        if self.remaining:
            text += f"; {_plural(self.remaining, 'finding')} left without an automatic fix"
        return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    if args.command != "fix" and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "rules":
        return _rules(sys.stdout)
    if args.command == "explain":
        return _explain(args.rule, sys.stdout)
    unknown = [arg for arg in extra if not arg.startswith("--django-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return _fix(args, extra)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flake8-django-safety",
        description="Django-aware checks for flake8, and the fixer for their findings.",
        epilog="Linting runs through flake8: flake8 --select=DJS PATH",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    fix = commands.add_parser(
        "fix",
        help="apply the rules' fixes to files",
        description="Apply fixes in place (safe ones by default), repeating until stable. "
        "Options of the flake8 configuration (select, ignore, exclude, django-safety-*, "
        "django-target-version) apply; any --django-safety-* flag of flake8, and "
        "--django-target-version, is accepted here too.",
    )
    fix.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to fix")
    output = fix.add_mutually_exclusive_group()
    output.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    output.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a file would change"
    )
    fix.add_argument(
        "--unsafe-fixes", action="store_true", help="also apply fixes that change behaviour"
    )
    fix.add_argument("--select", metavar="CODES", help="comma-separated codes or prefixes to fix")
    fix.add_argument("--ignore", metavar="CODES", help="comma-separated codes or prefixes to skip")
    fix.add_argument("--config", metavar="FILE", help="flake8 configuration file to read")
    fix.add_argument("--isolated", action="store_true", help="ignore configuration files")
    fix.add_argument("-q", "--quiet", action="store_true", help="print only the summary")

    commands.add_parser("rules", help="list the rules: code, name, default, fix safety")
    explain = commands.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("rule", metavar="CODE", help="a code (DJS101) or a rule name")
    return parser


def _rules(out: TextIO) -> int:
    rules = registered_rules().values()
    width = max(len(rule.name) for rule in rules)
    out.write(f"{'code':<7} {'name':<{width}} {'default':<7} fix\n")
    for rule in rules:
        default = "on" if rule.default_enabled else "off"
        out.write(f"{rule.code:<7} {rule.name:<{width}} {default:<7} {fix_label(rule)}\n")
    return EXIT_OK


def _explain(wanted: str, out: TextIO) -> int:
    for rule in registered_rules().values():
        if wanted.upper() == rule.code or wanted == rule.name:
            out.write(render_rule_page(rule))
            return EXIT_OK
    print(f"flake8-django-safety: no rule {wanted!r}; see 'flake8-django-safety rules'", file=sys.stderr)
    return EXIT_ERROR


def _engine_and_options(args: argparse.Namespace, extra: list[str]) -> tuple[Engine, object]:
    """Let flake8 read its configuration and our options, exactly as the plugin sees them."""
    from flake8.options.parse_args import parse_args

    from flake8_django_safety.flake8_plugin import selected_rules
    from flake8_django_safety.settings import Settings

    flake8_args = list(extra)
    for name in ("select", "ignore", "config"):
        value = getattr(args, name)
        if value is not None:
            flake8_args.append(f"--{name}={value}")
    if args.isolated:
        flake8_args.append("--isolated")
    _, options = parse_args(flake8_args)
    return Engine(selected_rules(options), Settings.from_options(options)), options


def _python_files(paths: Sequence[str], options: object) -> list[str]:
    from flake8.discover_files import expand_paths

    return sorted(
        set(
            expand_paths(
                paths=paths,
                stdin_display_name="stdin",
                filename_patterns=getattr(options, "filename", ["*.py"]),
                exclude=getattr(options, "exclude", []) + getattr(options, "extend_exclude", []),
            )
        )
    )


def _fix(args: argparse.Namespace, extra: list[str]) -> int:
    missing = [path for path in args.paths if not os.path.exists(path)]
    if missing:
        print(f"flake8-django-safety: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_ERROR
    try:
        engine, options = _engine_and_options(args, extra)
    except (SystemExit, Exception) as error:  # noqa: BLE001 - flake8 reports config errors so
        print(f"flake8-django-safety: cannot read the configuration: {error}", file=sys.stderr)
        return EXIT_ERROR
    if not engine.rules:
        print("flake8-django-safety: no DJS rule is selected; nothing to fix", file=sys.stderr)
        return EXIT_OK
    files = _python_files(args.paths, options)
    write = not (args.diff or args.check)
    summary = Summary()
    progress = _Progress(len(files), quiet=args.quiet)
    for index, path in enumerate(files, 1):
        progress.update(index, path)
        _fix_file(engine, path, args, summary)
    progress.done()
    for message in summary.skipped + summary.errors:
        print(message, file=sys.stderr)
    print(summary.line(write), file=sys.stderr)
    if summary.errors:
        return EXIT_ERROR
    if not write and summary.files:
        return EXIT_WOULD_CHANGE
    return EXIT_OK


def _fix_file(engine: Engine, path: str, args: argparse.Namespace, summary: Summary) -> None:
    summary.scanned += 1
    try:
        original = Path(path).read_bytes()
    except OSError as error:
        summary.errors.append(f"{path}: cannot read: {error.strerror}")
        return
    text = original.decode("utf-8", errors="replace")
    if not engine.rules_for(path, text):
        return
    try:
        module = parse(original)
    except ParseFailure as error:
        summary.skipped.append(f"{path}: skipped, cannot parse ({error})")
        return
    try:
        result = fix_module(engine, module, path, unsafe=args.unsafe_fixes)
        fixed = result.module.bytes
        parse(fixed)
    except ParseFailure as error:
        summary.errors.append(f"{path}: left unchanged, a fix produced invalid code ({error})")
        return
    summary.unsafe_available += result.unsafe_available
    summary.remaining += sum(1 for v in result.remaining if v.fix is None)
    if not result.converged:
        summary.errors.append(f"{path}: fixes did not settle after repeated passes")
    if not result.changed or fixed == original:
        return
    summary.fixes += result.applied
    summary.files += 1
    if args.diff:
        encoding = module.encoding
        before = original.decode(encoding).splitlines(keepends=True)
        after = fixed.decode(encoding).splitlines(keepends=True)
        sys.stdout.writelines(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))
    elif args.check:
        if not args.quiet:
            print(f"would fix {path} ({_plural(result.applied, 'finding')})")
    else:
        try:
            write_atomically(path, fixed)
        except OSError as error:
            summary.errors.append(f"{path}: cannot write: {error.strerror}")
            return
        if not args.quiet:
            print(f"fixed {path} ({_plural(result.applied, 'finding')})")


def write_atomically(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename, keeping its permissions."""
    target = Path(path)
    mode = target.stat().st_mode
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class _Progress:
    """A progress line on standard error for runs over many files."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self.total = total
        self.tty = sys.stderr.isatty()
        self.enabled = not quiet and total >= 50
        self.last = time.monotonic()

    def update(self, index: int, path: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            shown = path if len(path) <= 50 else "…" + path[-49:]
            sys.stderr.write(f"\r\033[K[{index}/{self.total}] {shown}")
            sys.stderr.flush()
        elif not self.tty and now - self.last >= 10:
            self.last = now
            sys.stderr.write(f"[{index}/{self.total}] files checked\n")

    def done(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\r\033[K")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


if __name__ == "__main__":
    raise SystemExit(main())
