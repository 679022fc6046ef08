"""The rule modules; importing this package registers every rule by its code."""

from flake8_django_safety.rules import (  # noqa: F401 - imported to register
    create_without_full_clean,
    timing_unsafe_secret_comparison,
    unkeyed_hash_of_secret,
)
