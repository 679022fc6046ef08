"""The rule modules; importing this package registers every rule by its code."""

from flake8_django_safety.rules import (  # noqa: F401 - imported to register
    blocking_materialized_view_refresh,
    bulk_write_skips_validation,
    create_without_full_clean,
    data_migration_not_elidable,
    deferred_field_access,
    irreversible_migration_operation,
    lock_outlives_transaction,
    migration_imports_models,
    n_plus_one_related_access,
    read_modify_write_race,
    save_without_full_clean,
    select_for_update_outside_atomic,
    serializer_skips_model_validation,
    timing_unsafe_secret_comparison,
    unkeyed_hash_of_secret,
)
