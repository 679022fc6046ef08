from __future__ import annotations

from flake8_django_safety._lazy import cst
from flake8_django_safety.drf import AccessPolicyRule, Policy, Statement, defines
from flake8_django_safety.drf_uses import ALLOW_ANY, lets_through, uses_of


class AccessPolicyAllowsEverything(AccessPolicyRule):
    """
    ## What it does
    Flags an `allow` statement of a drf-access-policy `AccessPolicy` whose
    principal includes `"*"` or `"anonymous"`, whose action includes `"*"`, and
    which has no `condition` or `condition_expression`, when a view of the
    project that accepts writes (create, update, destroy: a `ModelViewSet`, a
    `CreateAPIView`, a `post()` handler, an `@api_view(["POST"])` function...)
    is guarded by the policy with nothing else that refuses requests
    (`permission_classes`, or `access_policy` with `AccessViewSetMixin` and the
    view's other permissions), or when the statement makes the policy's other
    allow statements redundant. Reported on the statement.

    ## Why is this bad?
    Such a statement lets anyone, signed in or not, run every action of every
    view the policy guards: create, update and destroy included. Next to
    narrower statements it is usually a placeholder written while an API was
    built (or a read-only intent written with the wrong wildcard) that
    outlived its purpose.

    ## Known problems
    A policy whose only statement is an allow-all and that guards only
    read-only views (a public landing page) is deliberate and not reported,
    nor is one that no view uses or whose uses cannot be read: a computed
    `permission_classes`, `get_permissions()`, a base class of another
    library, `access_policy = Policy()` (an instance), or
    `@action(methods=["post"])` on a read-only viewset. Views are found in the
    modules that say `permission_classes` or `access_policy`.

    Silent when the same policy has a `deny` statement (drf-access-policy
    lets a matching deny win over any allow, so an allow-all followed by
    denies is a deliberate baseline with exceptions), when some statements
    are not literals, when a project base overrides
    `get_policy_statements()`, and in test modules.

    ## Example
    ```python
    from rest_access_policy import AccessPolicy
    from rest_framework.viewsets import ModelViewSet


    class ProductAccessPolicy(AccessPolicy):
        statements = [
            {"action": ["*"], "principal": ["*"], "effect": "allow"},
        ]


    class ProductViewSet(ModelViewSet):
        permission_classes = [ProductAccessPolicy]
    ```

    ## Use instead
    ```python
    from rest_access_policy import AccessPolicy
    from rest_framework.viewsets import ModelViewSet


    class ProductAccessPolicy(AccessPolicy):
        statements = [
            {"action": ["<safe_methods>"], "principal": ["*"], "effect": "allow"},
            {"action": ["*"], "principal": ["staff"], "effect": "allow"},
        ]


    class ProductViewSet(ModelViewSet):
        permission_classes = [ProductAccessPolicy]
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
    message = "Statement allows every action to {principal} without a condition: {consequence}"
    options = ("test_patterns", "cache_dir")

    def check_policy(self, policy: Policy, statements: list[Statement], *, complete: bool) -> None:
        if not complete or any(_effect(statement) != "allow" for statement in statements):
            return  # a deny (or a statement we cannot read) may carve out exceptions
        if defines(policy.classes[1:], "get_policy_statements"):
            return  # a base decides which statements count
        view: str | None = None
        for statement in statements:
            everyone = _allows_everything(statement)
            if not everyone:
                continue
            who = "anyone" if "*" in everyone or everyone >= {"anonymous", "authenticated"} else "anonymous users"
            if view is None:
                view = self._writable_view(policy) or ""
            if view:
                consequence = f"`{view}` accepts writes, so {who} can create, change and delete"
            elif any(other is not statement and _covered(other, who) for other in statements):
                consequence = "the policy's other allow statements change nothing; narrow its action or principal"
            else:
                continue  # used where nothing is written, or we cannot tell where
            self.report(statement.node, self.message.format(principal=who, consequence=consequence))

    def _writable_view(self, policy: Policy) -> str | None:
        """A view that serves unsafe requests and is guarded by the policy alone
        (or with permissions that let everything through)."""
        project = self.context.project
        if project is None:
            return None
        subject = policy.ref.qualname
        for use in uses_of(project, self.settings, subject):
            if use.writes and lets_through(use.terms, lambda name: name == subject or name in ALLOW_ANY):
                return use.label
        return None


def _allows_everything(statement: Statement) -> set[str]:
    """The principals among "*" / "anonymous" / "authenticated" an allow-all
    statement names (every action, no condition); empty for any other statement."""
    if statement.open or not (statement.is_empty("condition") and statement.is_empty("condition_expression")):
        return set()
    principals = {value for value, _ in statement.strings("principal")}
    if not principals & {"*", "anonymous"} or "*" not in {value for value, _ in statement.strings("action")}:
        return set()
    return principals & {"*", "anonymous", "authenticated"}


def _covered(statement: Statement, who: str) -> bool:
    """Every principal of ``statement`` is one the allow-all already lets do anything."""
    entry = statement.entries.get("principal")
    principals = [value for value, _ in statement.strings("principal")]
    if entry is None or not principals or statement.open:
        return False
    if isinstance(entry.value, (cst.List, cst.Tuple)) and len(principals) != len(entry.value.elements):
        return False  # some principal is computed
    return who == "anyone" or all(value == "anonymous" for value in principals)


def _effect(statement: Statement) -> str | None:
    """The literal effect (``Statement`` defaults to deny); None when computed."""
    entry = statement.entries.get("effect")
    if entry is None:
        return "deny" if statement.is_call else None
    strings = statement.strings("effect")
    return strings[0][0] if len(strings) == 1 and strings[0][1] is entry.value else None
