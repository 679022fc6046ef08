from __future__ import annotations

from flake8_django_safety.drf import AccessPolicyRule, Policy, Statement, condition_methods


class AccessPolicyMissingConditionMethod(AccessPolicyRule):
    """
    ## What it does
    Flags a `condition` of a drf-access-policy statement, or an operand of a
    `condition_expression` (`is_owner and not is_locked`), whose method name
    (the text before the first `:`) is neither defined on the policy class or
    its project base classes nor in a module of
    `DRF_ACCESS_POLICY["reusable_conditions"]` (read from the project's
    settings module, or given with `--django-safety-reusable-conditions`).
    One report per missing name per statement, on the string that names it.

    ## Why is this bad?
    drf-access-policy looks the method up when a request reaches the
    condition, and raises `AccessPolicyException` when it finds none: every
    request the statement's principal and action match fails with a server
    error. A typo or a method renamed in a refactor turns an endpoint into a
    500.

    ## Known problems
    Silent when no settings module is found and the option is not given (the
    reusable conditions are unknown), when a base class of the policy, or a
    reusable-conditions module (or a module it star-imports), cannot be read,
    when the settings compute `reusable_conditions`, and when the policy
    defines `__getattr__` or overrides how conditions are checked.

    ## Example
    ```python
    from rest_access_policy import AccessPolicy


    class ArticleAccessPolicy(AccessPolicy):
        statements = [
            {
                "action": ["update", "destroy"],
                "principal": ["authenticated"],
                "effect": "allow",
                "condition": "is_autor",
            },
        ]

        def is_author(self, request, view, action) -> bool:
            return view.get_object().author == request.user
    ```

    ## Use instead
    ```python
    from rest_access_policy import AccessPolicy


    class ArticleAccessPolicy(AccessPolicy):
        statements = [
            {
                "action": ["update", "destroy"],
                "principal": ["authenticated"],
                "effect": "allow",
                "condition": "is_author",
            },
        ]

        def is_author(self, request, view, action) -> bool:
            return view.get_object().author == request.user
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-reusable-conditions`
    - `django-safety-cache-dir`

    ## References
    - [drf-access-policy: conditions](https://rsinger86.github.io/drf-access-policy/policy_logic/#condition)
    - [drf-access-policy: reusable conditions](https://rsinger86.github.io/drf-access-policy/reusable_conditions/)
    - [Django: settings](https://docs.djangoproject.com/en/stable/topics/settings/)
    """

    code = "DJS904"
    name = "access-policy-missing-condition-method"
    message = (
        "Condition `{method}` is not a method of `{policy}` nor a reusable condition: "
        "requests that reach it fail with AccessPolicyException"
    )
    options = ("test_patterns", "reusable_conditions", "cache_dir")

    def check(self, policy: Policy, statement: Statement) -> None:
        reported: set[str] = set()
        for method, node in condition_methods(statement):
            if method in reported or policy.has_attribute(method):
                continue
            if self._reusable(method) is not False:
                continue  # found, or a module we cannot read may define it
            reported.add(method)
            self.report(node, self.message.format(method=method, policy=policy.ref.facts.name))

    def _reusable(self, method: str) -> bool | None:
        """``method`` is in a reusable-conditions module; None when we cannot tell."""
        project = self.context.project
        if project is None:
            return None
        modules = list(self.settings.reusable_conditions)
        values = project.setting("reusable_conditions")
        if values is None and not modules:
            return None  # no settings module found: its reusable conditions are unknown
        for value in values or ():
            if not isinstance(value, tuple):
                return None  # computed in the settings
            modules += value
        answer: bool | None = False
        for module in modules:
            found = project.module_binds(module, method)
            if found:
                return True
            if found is None:
                answer = None
        return answer
