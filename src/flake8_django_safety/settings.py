"""The configuration schema, shared by the flake8 plugin, the fixer and the codemod.

Each field of :class:`Settings` is one flake8 option named
``--django-safety-<field with dashes>`` (readable from ``setup.cfg``,
``tox.ini`` and ``.flake8``); a field whose metadata says ``"prefixed": False``
keeps its plain name (``--django-target-version``, spelled as django-upgrade
spells it). The fixer CLI and the codemod read the same keys
through flake8's own configuration loading, so a project configures once.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

OPTION_PREFIX = "django-safety-"

DEFAULT_SECRET_WORDS = (
    "token", "secret", "signature", "sig", "hmac", "mac", "apikey", "api_key",
    "password", "passwd", "pwd", "otp", "nonce", "csrf", "totp", "hotp", "pin",
)  # fmt: skip

DEFAULT_METADATA_WORDS = (
    "type", "name", "id", "count", "len", "length", "size", "expires", "expiry",
    "expiration", "created", "date", "time", "timestamp", "url", "prefix", "etag",
    "field", "header", "param", "kind", "format", "version", "scope", "status",
    "label", "algorithm", "alg", "method", "index", "ttl", "source", "owner", "user",
    # Not in RULES.md; each was a false positive on real code (docs/precision.md):
    # ``mac_address`` is network data, ``password_changed`` a date, ``token_use``
    # and ``token_endpoint`` protocol metadata, and ``refresh_token_hash`` a
    # digest, which is secret only through what it was computed from.
    "address", "addr", "changed", "updated", "modified", "use", "endpoint", "uri",
    "hash", "hashed", "digest",
)  # fmt: skip

DEFAULT_TEST_PATTERNS = (
    "test_*.py", "*_test.py", "test.py", "tests.py", "conftest.py", "tests/", "test/", "test_utils/",
    "testing/",
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """Every option of the plugin, with its default."""

    secret_words: tuple[str, ...] = dataclasses.field(
        default=DEFAULT_SECRET_WORDS,
        metadata={
            "help": "Identifier segments that make a name secret-like; replaces the default list",
            "metavar": "WORDS",
        },
    )
    extend_secret_words: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata={
            "help": "More identifier segments that make a name secret-like",
            "metavar": "WORDS",
        },
    )
    metadata_words: tuple[str, ...] = dataclasses.field(
        default=DEFAULT_METADATA_WORDS,
        metadata={
            "help": "Identifier segments that mark a name as metadata about a secret "
            "(token_type), never the secret itself; replaces the default list",
            "metavar": "WORDS",
        },
    )
    extend_metadata_words: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata={"help": "More metadata segments", "metavar": "WORDS"},
    )
    test_patterns: tuple[str, ...] = dataclasses.field(
        default=DEFAULT_TEST_PATTERNS,
        metadata={
            "help": "Files treated as test modules, which the rules that list this option "
            "leave alone: file-name globs, and folder names ending in '/'; empty to lint tests too",
            "metavar": "PATTERNS",
        },
    )

    atomic_requests: str = dataclasses.field(
        default="",
        metadata={
            "help": "Whether views run in a transaction (ATOMIC_REQUESTS): 'true' or 'false'; "
            "empty reads DATABASES['default']['ATOMIC_REQUESTS'] from the project's settings module",
            "metavar": "BOOL",
        },
    )
    reusable_conditions: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata={
            "help": "Modules of drf-access-policy reusable condition functions, added to those "
            "DRF_ACCESS_POLICY['reusable_conditions'] lists in the project's settings module",
            "metavar": "MODULES",
        },
    )
    cache_dir: str = dataclasses.field(
        default="",
        metadata={
            "help": "Folder of the cross-file index cache (default: ~/.cache/flake8-django-safety/index; "
            "'none' disables the disk cache)",
            "metavar": "PATH",
        },
    )
    django_target_version: str = dataclasses.field(
        default="",
        metadata={
            "help": "The oldest Django version the code must run on, as MAJOR.MINOR (4.1); "
            "empty: not given, and the rules that depend on it stay silent",
            "metavar": "VERSION",
            "prefixed": False,
        },
    )

    def __post_init__(self) -> None:
        if self.django_target_version.strip() and self.target_version is None:
            raise ValueError(
                f"{option_flag('django_target_version')}: {self.django_target_version!r} is not a "
                "Django version; give MAJOR.MINOR, for example 4.1"
            )

    # -- derived values ---------------------------------------------------------

    @cached_property
    def secret_segments(self) -> frozenset[str]:
        return _normalise(self.secret_words + self.extend_secret_words)

    @cached_property
    def metadata_segments(self) -> frozenset[str]:
        return _normalise(self.metadata_words + self.extend_metadata_words)

    @cached_property
    def secret_substrings(self) -> tuple[str, ...]:
        """Lower-case spellings of the secret words as raw text may hold them."""
        words = {word.lower() for word in self.secret_words + self.extend_secret_words}
        spellings = words | {w.replace("_", "") for w in words} | {w.replace("_", "-") for w in words}
        return tuple(sorted(spellings))

    @property
    def index_cache_dir(self) -> Path | None:
        """Where the project index caches facts on disk; None when disabled."""
        if self.cache_dir.strip().lower() == "none":
            return None
        if self.cache_dir.strip():
            return Path(self.cache_dir).expanduser()
        from flake8_django_safety.project.index import default_cache_dir

        return default_cache_dir()

    @cached_property
    def target_version(self) -> tuple[int, int] | None:
        """``django-target-version`` as ``(major, minor)``; None when not given (or invalid)."""
        match = _VERSION.fullmatch(self.django_target_version.strip())
        return None if match is None else (int(match[1]), int(match[2]))

    @property
    def atomic_requests_override(self) -> bool | None:
        """The ``atomic-requests`` option as a boolean; None: read the settings."""
        value = self.atomic_requests.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        return None

    def is_test_file(self, filename: str) -> bool:
        parts = filename.replace("\\", "/").split("/")
        base = parts[-1]
        for pattern in self.test_patterns:
            if pattern.endswith("/"):
                if pattern.rstrip("/") in parts[:-1]:
                    return True
            elif fnmatch.fnmatchcase(base, pattern):
                return True
        return False

    @staticmethod
    def is_migration_file(filename: str) -> bool:
        """A file in a ``migrations`` folder: it runs once, in one process."""
        return "migrations" in filename.replace("\\", "/").split("/")[:-1]

    # -- construction -----------------------------------------------------------

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Build from ``{field: value}``; strings are split on commas."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            name = key.replace("-", "_")
            if name.startswith(OPTION_PREFIX.replace("-", "_")):
                name = name[len(OPTION_PREFIX) :]
            if name not in known:
                raise ValueError(f"unknown option {key!r}")
            if isinstance(known[name].default, str):
                kwargs[name] = value if isinstance(value, str) else ",".join(value)
            else:
                kwargs[name] = _as_tuple(value)
        return cls(**kwargs)

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Settings:
        """Build from flake8's parsed options (unset options keep their defaults)."""
        values = {}
        for f in dataclasses.fields(cls):
            value = getattr(options, option_dest(f.name), None)
            if value is not None:
                values[f.name] = value
        return cls.from_mapping(values)


def option_dest(field_name: str) -> str:
    """The argparse destination of a settings field."""
    return option_flag(field_name)[2:].replace("-", "_")


def option_flag(field_name: str) -> str:
    """The command-line flag of a settings field."""
    prefixed = _FIELDS[field_name].metadata.get("prefixed", True)
    return f"--{OPTION_PREFIX if prefixed else ''}{field_name.replace('_', '-')}"


def option_fields() -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(Settings)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
#: ``4.1``: a Django feature release as MAJOR.MINOR (django-upgrade takes the same).
_VERSION = re.compile(r"([1-9][0-9]*)\.([0-9]+)")


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    return tuple(item.strip() for item in value if item and item.strip())


def _normalise(words: Iterable[str]) -> frozenset[str]:
    return frozenset(word.lower().replace("_", "").replace("-", "") for word in words)
