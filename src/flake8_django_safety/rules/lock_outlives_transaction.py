from __future__ import annotations

from flake8_django_safety._lazy import cst
from flake8_django_safety.transactions import Frame, LockTracker


class LockOutlivesTransaction(LockTracker):
    """
    ## What it does
    Flags a `select_for_update()` queryset that is built inside a
    `with transaction.atomic():` block and evaluated after the block has ended,
    where no outer transaction covers it.

    ## Why is this bad?
    Querysets are lazy: building one inside the block runs no query. The rows
    are read, and locked, only where the queryset is evaluated, and by then the
    transaction that was meant to hold the locks has committed. On PostgreSQL
    the evaluation raises `TransactionManagementError`; on SQLite nothing is
    locked. Either way the code that looks protected is not.

    ## Known problems
    Reported instead of DJS301 for the same evaluation. Silent when an outer
    `atomic()` block or an `@atomic` decorator (or `ATOMIC_REQUESTS` for a
    view) still covers the evaluation.

    ## Example
    ```python
    from django.db import transaction

    from myapp.models import Seat


    def reserve(show):
        with transaction.atomic():
            seats = Seat.objects.select_for_update().filter(show=show, taken=False)
        for seat in seats:
            seat.taken = True
            seat.save()
    ```

    ## Use instead
    ```python
    from django.db import transaction

    from myapp.models import Seat


    def reserve(show):
        with transaction.atomic():
            seats = Seat.objects.select_for_update().filter(show=show, taken=False)
            for seat in seats:
                seat.taken = True
                seat.save()
    ```

    ## Options
    - `django-safety-atomic-requests`

    ## References
    - [Django: when querysets are evaluated](https://docs.djangoproject.com/en/stable/ref/models/querysets/#when-querysets-are-evaluated)
    - [Django: `select_for_update()`](https://docs.djangoproject.com/en/stable/ref/models/querysets/#select-for-update)
    """

    code = "DJS302"
    name = "lock-outlives-transaction"
    message = (
        "This `select_for_update()` queryset was built inside an `atomic()` block but is "
        "evaluated after it ended: the rows are read and locked only here, outside the "
        "transaction; evaluate it inside the block (e.g. `list(...)`)"
    )
    options = ("atomic_requests",)

    def evaluated_outside(self, node: cst.CSTNode, frame: Frame, *, after_block: bool) -> None:
        if after_block:
            self.report(node, self.message)
