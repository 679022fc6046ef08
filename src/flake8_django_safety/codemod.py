"""The fixes as a libcst codemod command.

With ``modules: ["flake8_django_safety"]`` in ``.libcst.codemod.yaml``::

    python -m libcst.tool codemod codemod.DjangoSafetyFix PATH [--unsafe-fixes]

applies exactly what ``flake8-django-safety fix PATH`` applies: same engine,
same fix loop, same configuration (flake8's, read from the working folder).
"""

from __future__ import annotations

import argparse

import libcst as cst
from libcst.codemod import CodemodContext, SkipFile, VisitorBasedCodemodCommand

from flake8_django_safety.engine import Engine, ParseFailure
from flake8_django_safety.fixer import fix_module


class DjangoSafetyFix(VisitorBasedCodemodCommand):
    DESCRIPTION = "Apply flake8-django-safety's fixes (safe ones unless --unsafe-fixes)."

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--unsafe-fixes",
            dest="unsafe_fixes",
            action="store_true",
            help="also apply fixes that change behaviour",
        )
        arg_parser.add_argument(
            "--select", dest="select", default=None, help="comma-separated codes or prefixes"
        )
        arg_parser.add_argument(
            "--ignore", dest="ignore", default=None, help="comma-separated codes or prefixes"
        )

    def __init__(
        self,
        context: CodemodContext,
        unsafe_fixes: bool = False,
        select: str | None = None,
        ignore: str | None = None,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(context)
        self.unsafe_fixes = unsafe_fixes
        self.engine = engine or _configured_engine(select, ignore)

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        filename = self.context.filename or "<codemod>"
        try:
            result = fix_module(self.engine, tree, filename, unsafe=self.unsafe_fixes)
        except ParseFailure as error:
            raise SkipFile(f"a fix produced invalid code, file left unchanged: {error}") from None
        if not result.changed:
            raise SkipFile("nothing to fix")
        return result.module


def _configured_engine(select: str | None, ignore: str | None) -> Engine:
    """The engine flake8's configuration in the working folder describes."""
    from flake8.exceptions import ExecutionError
    from flake8.options.parse_args import parse_args

    from flake8_django_safety.flake8_plugin import selected_rules
    from flake8_django_safety.settings import Settings

    argv = [f"--{name}={value}" for name, value in (("select", select), ("ignore", ignore)) if value]
    try:
        _, options = parse_args(argv)
    except ExecutionError as error:  # an option value that makes no sense (the plugin says which)
        raise SystemExit(str(error)) from None
    return Engine(selected_rules(options), Settings.from_options(options))
