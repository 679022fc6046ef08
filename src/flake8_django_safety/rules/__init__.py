"""The rule modules; importing this package registers every rule by its code."""

from flake8_django_safety.rules import (  # noqa: F401 - imported to register
    access_policy_allows_everything,
    access_policy_dead_principal_or_action,
    access_policy_missing_condition_method,
    access_policy_statement_shape,
    bulk_write_skips_validation,
    create_without_full_clean,
    deferred_field_access,
    list_view_loads_heavy_columns,
    lock_outlives_transaction,
    n_plus_one_related_access,
    object_permission_only,
    read_modify_write_race,
    save_without_full_clean,
    select_for_update_outside_atomic,
    serializer_skips_model_validation,
    timing_unsafe_secret_comparison,
    unkeyed_hash_of_secret,
    view_without_permission_classes,
)
