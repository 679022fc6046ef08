"""A one-model Django app for the PostgreSQL runtime tests (tests/runtime/pgenv.py)."""
