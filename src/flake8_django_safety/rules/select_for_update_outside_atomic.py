from __future__ import annotations

from flake8_django_safety._lazy import cst
from flake8_django_safety.rule import Fix, Safety
from flake8_django_safety.transactions import ATOMIC, Frame, LockTracker


class SelectForUpdateOutsideAtomic(LockTracker):
    """
    ## What it does
    Flags a queryset built with `select_for_update()` that is evaluated where no
    transaction is guaranteed: not inside `with transaction.atomic():`, not in a
    function decorated with `@transaction.atomic` (with or without arguments),
    and not in a view while the project runs with `ATOMIC_REQUESTS = True`.
    Evaluation is iteration, `list()` / `len()` / `bool()`, an integer index,
    `in`, `.get()`, `.first()`, `.last()`, `.latest()`, `.earliest()`,
    `.exists()`, `.count()` and their async forms. A locking queryset kept in a
    local, or returned by a function or method of the same module, is followed
    to where it is evaluated.

    ## Why is this bad?
    `SELECT ... FOR UPDATE` holds its row locks until the transaction ends. In
    autocommit mode there is no transaction to hold them, so on PostgreSQL,
    MySQL and Oracle Django raises `TransactionManagementError` when the query
    runs. On SQLite the lock is silently skipped, which is why this reaches
    production: the tests pass, and the code that was meant to serialise
    concurrent updates either crashes or (behind a broad `except`) locks nothing.

    ## Known problems
    Reported only where the code is known to run outside a transaction: in an
    entry point (a view, a handler method of a class-based view, a management
    command's `handle()`, a task, a signal receiver), at module level, or in a
    function that such code in the same module calls outside an atomic block.
    A helper whose callers live in other modules is left alone: they usually
    hold the transaction (precision first; on real projects every such helper
    was called inside one). A function whose every call in its module is
    covered, or that checks `connection.in_atomic_block`, counts as covered, and
    so does the block of a project context manager that opens `atomic()`. A
    function nested inside a block does not inherit it (it may run after the
    block has ended). A lock taken under an `if` whose test also opens the
    block elsewhere (`if self.is_atomic: with atomic(): ...` in `dispatch()`,
    `if self.is_atomic: qs = qs.select_for_update()` in a helper) counts as
    covered; in the `if` that opens the block itself, a lock taken before the
    block is reported. Methods
    of a class-based view other than its handlers are helpers, not entry
    points, even when they take `request`. A queryset returned or
    yielded unevaluated is not reported where it is built: its caller decides.
    Views count as atomic under `ATOMIC_REQUESTS` when they are functions whose
    first parameter is `request`, or handler methods (`get`, `post`, ...,
    `list`, `create`, ..., `perform_*`, `@action` methods) of a class-based
    view; `@transaction.non_atomic_requests` takes a view out, and
    `method_decorator(transaction.atomic, name="dispatch")` puts a class in.
    `ATOMIC_REQUESTS` is read from the project's settings module (found through
    `DJANGO_SETTINGS_MODULE` in manage.py, wsgi.py/asgi.py or the pytest
    configuration, else the `settings.py` nearest the root), or set with the
    option.

    ## Example
    ```python
    from myapp.models import Account


    def withdraw(request, pk):
        account = Account.objects.select_for_update().get(pk=pk)
        account.balance -= int(request.POST["amount"])
        account.save()
    ```

    ## Use instead
    ```python
    from django.db import transaction

    from myapp.models import Account


    @transaction.atomic
    def withdraw(request, pk):
        account = Account.objects.select_for_update().get(pk=pk)
        account.balance -= int(request.POST["amount"])
        account.save()
    ```

    ## Options
    - `django-safety-atomic-requests`

    ## Fix safety
    The fix is unsafe: it decorates the enclosing function with
    `@transaction.atomic` (adding `from django.db import transaction`, or
    reusing the module's import of `atomic`), so everything the function writes
    now commits or rolls back together, and an exception raised inside it rolls
    back writes that used to stay. It is not offered at module level, for
    `async` functions (`atomic` does not support them) or when the name
    `transaction` is taken by something else.

    ## References
    - [Django: `select_for_update()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#select-for-update)
    - [Django: controlling transactions explicitly](https://docs.djangoproject.com/en/stable/topics/db/transactions/#controlling-transactions-explicitly)
    - [Django: tying transactions to HTTP requests](https://docs.djangoproject.com/en/stable/topics/db/transactions/#tying-transactions-to-http-requests)
    """

    code = "DJS301"
    name = "select-for-update-outside-atomic"
    message = (
        "A `select_for_update()` queryset is evaluated outside a transaction: PostgreSQL raises "
        "`TransactionManagementError` here (SQLite silently locks nothing); run it inside "
        "`transaction.atomic()`"
    )
    fix_safety = Safety.UNSAFE
    options = ("atomic_requests",)

    def evaluated_outside(self, node: cst.CSTNode, frame: Frame, *, after_block: bool) -> None:
        if not after_block and frame.exposed:
            self.report(node, self.message, self._fix(frame))

    def _fix(self, frame: Frame) -> Fix | None:
        function = frame.node
        if function is None or function.asynchronous is not None:
            return None
        found = self.context.imports.reference_for_fix(ATOMIC, "django.db", "transaction")
        if found is None:
            return None  # ``transaction`` is bound to something else
        reference, requests = found
        decorator = cst.Decorator(decorator=cst.parse_expression(reference))
        replacement = function.with_changes(decorators=[*function.decorators, decorator])
        return Fix("Decorate the function with `@transaction.atomic`", Safety.UNSAFE, function, replacement, requests)

