from __future__ import annotations

from flake8_django_safety.drf import AccessPolicyRule, Policy, Statement


class AccessPolicyAllowsEverything(AccessPolicyRule):
    """
    ## What it does
    Flags an `allow` statement of a drf-access-policy `AccessPolicy` whose
    principal includes `"*"` or `"anonymous"`, whose action includes `"*"`, and
    which has no `condition` or `condition_expression`. Reported on the
    statement.

    ## Why is this bad?
    Such a statement lets anyone, signed in or not, run every action of every
    view the policy guards: create, update and destroy included. It is
    usually a placeholder written while an API was built (or a read-only
    intent written with the wrong wildcard) that outlived its purpose.

    ## Known problems
    Silent when the same policy has a `deny` statement: drf-access-policy
    lets a matching deny win over any allow, so an allow-all followed by
    denies is a deliberate baseline with exceptions. A policy used only on
    read-only views is reported although it grants nothing more; narrow its
    action to `["list", "retrieve"]` or `<safe_methods>` to say so.

    ## Example
    ```python
    from rest_access_policy import AccessPolicy


    class ProductAccessPolicy(AccessPolicy):
        statements = [
            {"action": ["*"], "principal": ["*"], "effect": "allow"},
        ]
    ```

    ## Use instead
    ```python
    from rest_access_policy import AccessPolicy


    class ProductAccessPolicy(AccessPolicy):
        statements = [
            {"action": ["<safe_methods>"], "principal": ["*"], "effect": "allow"},
            {"action": ["*"], "principal": ["staff"], "effect": "allow"},
        ]
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## References
    - [drf-access-policy: statement elements](https://rsinger86.github.io/drf-access-policy/policy_logic/)
    - [Django: permissions and authorization](https://docs.djangoproject.com/en/stable/topics/auth/default/#permissions-and-authorization)
    """

    code = "DJS905"
    name = "access-policy-allows-everything"
    message = "Statement allows every action to {principal} without a condition"
    options = ("test_patterns", "cache_dir")

    def check_policy(self, policy: Policy, statements: list[Statement]) -> None:
        if any(_effect(statement) != "allow" for statement in statements):
            return  # a deny (or a statement we cannot read) may carve out exceptions
        for statement in statements:
            if statement.open or not (statement.is_empty("condition") and statement.is_empty("condition_expression")):
                continue
            principals = {value for value, _ in statement.strings("principal")}
            actions = {value for value, _ in statement.strings("action")}
            everyone = principals & {"*", "anonymous"}
            if everyone and "*" in actions:
                who = "anyone" if "*" in everyone else "anonymous users"
                self.report(statement.node, self.message.format(principal=who))


def _effect(statement: Statement) -> str | None:
    """The literal effect (``Statement`` defaults to deny); None when computed."""
    entry = statement.entries.get("effect")
    if entry is None:
        return "deny" if statement.is_call else None
    strings = statement.strings("effect")
    return strings[0][0] if len(strings) == 1 and strings[0][1] is entry.value else None
