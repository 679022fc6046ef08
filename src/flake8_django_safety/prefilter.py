"""Cheap views of a file's raw text, shared by the rules' prefilters.

Most files hold nothing any rule looks for; deciding that from the text is
what keeps the plugin a few percent of flake8's own cost. Everything here is
computed lazily, once per file, with substring tests before any regex.
"""

from __future__ import annotations

import keyword
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flake8_django_safety.settings import Settings

#: Same splitting as ``secretlike.segments``: ``XHubSignature256`` -> X, Hub, Signature, 256.
SEGMENT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


_SAVED = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\.a?save\(")


class SourceText:
    """The text of one file with the derived views prefilters need."""

    def __init__(self, text: str, filename: str = "") -> None:
        self.text = text
        self.filename = filename
        #: Answers several rules' prefilters share (e.g. the validated models it names).
        self.memo: dict[str, Any] = {}

    @cached_property
    def saved_receivers(self) -> frozenset[str]:
        """What ``x.save(`` / ``a.b.asave(`` is called on, as written (``x``, ``a.b``)."""
        if "save(" not in self.text:
            return frozenset()
        return frozenset(_SAVED.findall(self.text))

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def comparison_lines(self) -> tuple[str, ...]:
        """The lines that hold ``==`` or ``!=``, as written."""
        text = self.text
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

    def lines_with(self, needles: tuple[str, ...]) -> tuple[str, ...]:
        """The lines whose lower-cased text holds any of ``needles``."""
        lower = self.lower
        found: dict[int, str] = {}
        for needle in needles:
            position = lower.find(needle)
            while position != -1:
                start = lower.rfind("\n", 0, position) + 1
                if start not in found:
                    found[start] = self.line_of(position)
                position = lower.find(needle, position + len(needle))
        return tuple(found[start] for start in sorted(found))

    def line_of(self, position: int) -> str:
        """The line around ``position``, as written."""
        text = self.text
        start = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        return text[start : end if end != -1 else len(text)]


#: Calls that may produce a keyed digest or signed token on a line.
_KEYED_TRIGGERS = ("hmac", "signing.", "signer", ".sign(")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_NOT_NAMES = frozenset(keyword.kwlist) | {"none", "true", "false", "self", "len"}


def secret_on_lines(text: SourceText, lines: tuple[str, ...], settings: Settings) -> bool:
    """Whether ``lines`` mention a secret, or a name bound to one on another line.

    A secret word counts as a whole identifier segment (``token`` yes, ``tokens``
    no); a keyed-digest call (``hmac.new``, ``signing.dumps``) counts too.
    """
    if not lines:
        return False
    if any(mentions_secret(line, settings) or _keyed_call(line) for line in lines):
        return True
    lower = text.lower
    names = {name for line in lines for name in _IDENTIFIER.findall(line.lower())} - _NOT_NAMES
    for name in names:
        position = lower.find(f"{name} = ")
        while position != -1:
            before = lower[position - 1] if position else "\n"
            line = text.line_of(position)
            if not (before.isalnum() or before in "_.") and (
                mentions_secret(line, settings) or _keyed_call(line)
            ):
                return True
            position = lower.find(f"{name} = ", position + 1)
    return False


#: A dotted name or a string literal: what an operand's identity is read from.
_OPERAND = re.compile(r"[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*|\"[^\"]*\"|'[^']*'")
#: Methods that keep their receiver's meaning (``token.encode()`` is the token).
TRANSPARENT_METHODS = frozenset({"encode", "decode", "strip", "lower", "upper"})


def mentions_secret(line: str, settings: Settings) -> bool:
    """A name, attribute or string on ``line`` that the rules would call secret-like."""
    lower = line.lower()
    if not any(word in lower for word in settings.secret_substrings):
        return False
    for match in _OPERAND.finditer(line):
        text = match.group(0)
        if text[0] in "\"'":
            identifier = text[1:-1]
        else:
            names = [name.strip() for name in text.split(".")]
            while len(names) > 1 and names[-1] in TRANSPARENT_METHODS:
                names.pop()
            identifier = names[-1]
        if secret_word(segments_of(identifier), settings) is not None:
            return True
    return False


def segments_of(identifier: str) -> list[str]:
    """``XHubSignature256`` / ``HTTP_X_SIGNATURE`` split into lower-case words."""
    return [match.group(0).lower() for match in SEGMENT.finditer(identifier)]


def secret_word(parts: list[str], settings: Settings) -> str | None:
    """The secret segment of an identifier's ``parts``, unless a metadata segment vetoes it."""
    if not parts or parts[0] in ("is", "has"):
        return None
    metadata = settings.metadata_segments
    if any(part in metadata for part in parts):
        return None
    secret = settings.secret_segments
    for part in parts:
        if part in secret:
            return part
    for first, second in zip(parts, parts[1:]):
        if first + second in secret:
            return first + second
    return None


def _keyed_call(line: str) -> bool:
    lower = line.lower()
    return any(trigger in lower for trigger in _KEYED_TRIGGERS)
