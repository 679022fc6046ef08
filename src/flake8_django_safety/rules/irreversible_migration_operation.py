from __future__ import annotations

from flake8_django_safety._lazy import cst
from flake8_django_safety.migrations import REVERSE_ARGUMENT, DataOperationRule, argument
from flake8_django_safety.rule import Fix, Safety


class IrreversibleMigrationOperation(DataOperationRule):
    """
    ## What it does
    Flags a `RunPython` operation without `reverse_code` and a `RunSQL`
    operation without `reverse_sql` (neither as keyword nor as second
    positional argument) in a migration module: a module of a `migrations`
    package that defines `class Migration`.

    ## Why is this bad?
    Without a reverse, Django cannot unapply the migration: `migrate app 0041`
    (rolling back a bad deploy) and `migrate app zero` stop with
    `IrreversibleError` at that operation, and every migration after it is
    stuck applied. Most data migrations have nothing to undo on the way back
    (the schema change that follows or precedes them is reversed on its own),
    and saying so with `RunPython.noop` / `RunSQL.noop` keeps the whole chain
    reversible.

    ## Known problems
    An explicit `reverse_code=None` / `reverse_sql=None` is taken as a
    deliberate choice and not reported. Calls with `*args` or `**kwargs` are
    left alone.

    ## Example
    ```python
    from django.db import migrations


    def fill_reference(apps, schema_editor):
        Order = apps.get_model("shop", "Order")
        Order.objects.filter(reference="").update(reference="legacy")


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.RunPython(fill_reference, elidable=True),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations


    def fill_reference(apps, schema_editor):
        Order = apps.get_model("shop", "Order")
        Order.objects.filter(reference="").update(reference="legacy")


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.RunPython(fill_reference, migrations.RunPython.noop, elidable=True),
        ]
    ```

    ## Fix safety
    The fix is unsafe: it adds `reverse_code=RunPython.noop` (or
    `reverse_sql=RunSQL.noop`), spelled through the same name as the
    operation (`migrations.RunPython.noop`, `m.RunPython.noop`,
    `RunPython.noop`), so no import is needed. Unapplying the migration then
    succeeds and leaves the data as the forward operation wrote it; when the
    forward operation must really be undone (it dropped or merged rows), write
    the reverse yourself instead.

    ## References
    - [Django: `RunPython`](https://docs.djangoproject.com/en/stable/ref/migration-operations/#runpython)
    - [Django: `RunSQL`](https://docs.djangoproject.com/en/stable/ref/migration-operations/#runsql)
    - [Django: reversing migrations](https://docs.djangoproject.com/en/stable/topics/migrations/#reversing-migrations)
    """

    code = "DJS701"
    name = "irreversible-migration-operation"
    message = (
        "Irreversible migration: `{operation}` without `{keyword}` cannot be unapplied (`migrate` backwards "
        "raises `IrreversibleError`); pass `{keyword}` (`{operation}.noop` when there is nothing to undo)"
    )
    fix_safety = Safety.UNSAFE

    def check_operation(self, call: cst.Call, operation: str) -> None:
        keyword = REVERSE_ARGUMENT[operation]
        if argument(call, 1, keyword) is not None:
            return
        message = self.message.format(operation=operation, keyword=keyword)
        self.report(call, message, _fix(call, keyword))


def _fix(call: cst.Call, keyword: str) -> Fix:
    """``RunPython(f)`` -> ``RunPython(f, reverse_code=RunPython.noop)``, keeping the layout:
    one argument per line stays one argument per line, comments stay where they were."""
    noop = cst.Attribute(value=call.func, attr=cst.Name("noop"))
    added = cst.Arg(
        value=noop,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )
    args = list(call.args)
    if args:
        last = args[-1]
        # What follows the last argument: its trailing comma, or the space before ``)``.
        after = last.comma.whitespace_after if isinstance(last.comma, cst.Comma) else last.whitespace_after_arg
        if isinstance(after, cst.ParenthesizedWhitespace):
            # The last argument ends its line: the new one goes on a line of its own,
            # indented like the others, and takes over the line break before ``)``.
            before = call.whitespace_before_args
            indent = before if isinstance(before, cst.ParenthesizedWhitespace) else after
            separator = after.with_changes(indent=indent.indent, last_line=indent.last_line)
            closing = after.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
            if isinstance(last.comma, cst.Comma):
                args[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=separator))
                added = added.with_changes(comma=cst.Comma(whitespace_after=closing))
            else:
                args[-1] = last.with_changes(
                    comma=cst.Comma(whitespace_after=separator), whitespace_after_arg=cst.SimpleWhitespace("")
                )
                added = added.with_changes(whitespace_after_arg=closing)
        else:
            # On one line: ``f(a)`` -> ``f(a, new)``, ``f(a,)`` -> ``f(a, new,)``.
            added = added.with_changes(comma=last.comma, whitespace_after_arg=last.whitespace_after_arg)
            args[-1] = last.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")), whitespace_after_arg=cst.SimpleWhitespace("")
            )
    replacement = call.with_changes(args=[*args, added])
    title = f"Add `{keyword}={cst.Module([]).code_for_node(noop)}`"
    return Fix(title, Safety.UNSAFE, call, replacement)
