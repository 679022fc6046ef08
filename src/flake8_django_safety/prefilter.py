"""Cheap views of a file's raw text, shared by the rules' prefilters.

Most files hold nothing any rule looks for; deciding that from the text is
what keeps the plugin a few percent of flake8's own cost. Everything here is
computed lazily, once per file, with substring tests before any regex.
"""

from __future__ import annotations

from functools import cached_property


class SourceText:
    """The text of one file with the derived views prefilters need."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def comparison_lines(self) -> tuple[str, ...]:
        """Lower-cased lines that hold ``==`` or ``!=``."""
        text = self.lower
        if "==" not in text and "!=" not in text:
            return ()
        found: dict[int, str] = {}
        for operator in ("==", "!="):
            position = text.find(operator)
            while position != -1:
                start = text.rfind("\n", 0, position) + 1
                if start not in found:
                    end = text.find("\n", position)
                    found[start] = text[start : end if end != -1 else len(text)]
                position = text.find(operator, position + 2)
        return tuple(found[start] for start in sorted(found))

    def line_of(self, position: int) -> str:
        """The lower-cased line around ``position``."""
        text = self.lower
        start = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        return text[start : end if end != -1 else len(text)]
