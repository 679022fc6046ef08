"""The flake8 adapter: registers the options, reports the engine's findings.

flake8 owns ``# noqa``, ``--select``/``--ignore`` and output formats. This
adapter asks flake8's own ``DecisionEngine`` which of our codes are selected,
so when none is (``--select=E,F,W``) it does no work at all.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any, ClassVar

from flake8.exceptions import ExecutionError
from flake8.options.manager import OptionManager
from flake8.style_guide import Decision, DecisionEngine

from flake8_django_safety import __version__
from flake8_django_safety.engine import Engine
from flake8_django_safety.rule import Rule, registered_rules
from flake8_django_safety.settings import Settings, option_dest, option_fields, option_flag


class Plugin:
    """flake8 tree plugin; flake8 instantiates it once per file."""

    name = "flake8-django-safety"
    version = __version__

    engine: ClassVar[Engine] = Engine(
        [rule for rule in registered_rules().values() if rule.default_enabled]
    )

    def __init__(self, tree: ast.AST, lines: list[str], filename: str) -> None:
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, option_manager: OptionManager) -> None:
        for field in option_fields():
            default = field.default
            option_manager.add_option(
                option_flag(field.name),
                dest=option_dest(field.name),
                default=None,
                parse_from_config=True,
                comma_separated_list=isinstance(default, tuple),
                metavar=field.metadata["metavar"],
                help=f"{field.metadata['help']} (default: {_show(default)})",
            )
        off = [rule.code for rule in registered_rules().values() if not rule.default_enabled]
        if off:
            option_manager.extend_default_ignore(off)

    @classmethod
    def parse_options(cls, options: Any) -> None:
        try:
            settings = Settings.from_options(options)
        except ValueError as error:  # an option value that makes no sense: say which, no traceback
            raise ExecutionError(f"flake8-django-safety: {error}") from None
        cls.engine = Engine(selected_rules(options), settings)

    def run(self) -> Iterator[tuple[int, int, str, type[Plugin]]]:
        if not self.engine.rules:
            return
        for violation in self.engine.lint_text("".join(self.lines), self.filename, checked=True):
            yield violation.line, violation.column, f"{violation.code} {violation.message}", type(self)


def selected_rules(options: Any) -> list[type[Rule]]:
    """The rules flake8 would report, judged by flake8's own selection logic."""
    decider = DecisionEngine(options)
    return [
        rule
        for code, rule in registered_rules().items()
        if decider.decision_for(code) is Decision.Selected
    ]


def _show(default: Any) -> str:
    if isinstance(default, tuple):
        return ",".join(default) if default else "none"
    return str(default)
