from __future__ import annotations

from flake8_django_safety._lazy import cst
from flake8_django_safety.migrations import DataOperationRule, argument


class DataMigrationNotElidable(DataOperationRule):
    """
    ## What it does
    Flags a `RunPython` or `RunSQL` operation in a migration module that does
    not say whether it is `elidable`.

    ## Why is this bad?
    `squashmigrations` copies every data operation that is not marked
    `elidable=True` into the squashed migration, and from there into every
    later squash: a one-off backfill written years ago keeps running on every
    fresh database (every test run, every new developer) and keeps its code
    and its imports alive. Marking one-off data operations `elidable=True`
    lets squashing drop them; an operation that must survive squashing says so
    with `elidable=False`.

    ## Known problems
    Off by default: whether an operation may be dropped is a judgement about
    the data, and many projects never squash. Enable it with
    `--extend-select=DJS703`. An explicit `elidable=False` is a decision, not
    an omission, and is not reported; neither are calls with `*args` or
    `**kwargs`.

    ## Example
    ```python
    from django.db import migrations


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.RunSQL(
                "UPDATE shop_order SET reference = 'legacy' WHERE reference = ''",
                migrations.RunSQL.noop,
            ),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.RunSQL(
                "UPDATE shop_order SET reference = 'legacy' WHERE reference = ''",
                migrations.RunSQL.noop,
                elidable=True,
            ),
        ]
    ```

    ## References
    - [Django: squashing migrations](https://docs.djangoproject.com/en/stable/topics/migrations/#migration-squashing)
    - [Django: `RunPython` `elidable`](https://docs.djangoproject.com/en/stable/ref/migration-operations/#runpython)
    """

    code = "DJS703"
    name = "data-migration-not-elidable"
    message = (
        "Data migration not marked `elidable`: `squashmigrations` carries this `{operation}` into every "
        "squashed migration; pass `elidable=True` for a one-off data change (`elidable=False` to keep it)"
    )
    default_enabled = False

    def check_operation(self, call: cst.Call, operation: str) -> None:
        if argument(call, 4, "elidable") is None:
            self.report(call, self.message.format(operation=operation))
