from __future__ import annotations

from typing import TYPE_CHECKING

from flake8_django_safety._lazy import cst
from flake8_django_safety.drf import AccessPolicyRule, Policy, Statement

if TYPE_CHECKING:
    import libcst


class AccessPolicyStatementShape(AccessPolicyRule):
    """
    ## What it does
    Flags a statement of a drf-access-policy `AccessPolicy` subclass that
    drf-access-policy cannot apply as written: a missing key, an effect other
    than `"allow"` / `"deny"`, or an unknown key.

    Statements are dict literals in `statements = [...]` or in the list
    `get_policy_statements()` returns, and `Statement(...)` calls. Flagged:
    - no `principal` or no `action`;
    - a dict with no `effect`;
    - an `effect` other than exactly `"allow"` or `"deny"`;
    - a key other than `principal`, `action`, `effect`, `condition` and
      `condition_expression` (`"conditions"`, `"Effect"`).

    Reported on the statement for a missing key, on the offending key or value
    otherwise.

    ## Why is this bad?
    drf-access-policy reads statements when a request comes in. A dict without
    `principal` or `action` raises `KeyError` for every request the policy
    checks; one without `effect` raises for every request it matches. Any
    effect but `"allow"` counts as a deny, so `"Allow"` silently refuses what
    the statement was written to grant. Unknown keys are ignored: a misspelled
    `"conditions"` key drops the condition, and the statement grants access to
    everyone its principal matches. The `Statement` dataclass defaults `effect`
    to `"deny"`; the same mistakes there (a missing `principal` / `action`, an
    unknown keyword, an effect that is not `"allow"` / `"deny"`) raise when the
    module is imported.

    ## Known problems
    Statements built at run time (a list from a function, a dict spread with
    `**`) are checked only for what is written literally. The DJS902–DJS905
    prefilter reads only files that say both `statements` and `Polic`
    (`AccessPolicy`, `TenantPolicy`, `policies`), so a policy class whose
    module names no policy is not seen. Policies that
    override how drf-access-policy reads statements (`_normalize_statements`,
    `_evaluate_statements` and the other `_get_statements_matching_*` methods)
    are left alone, as are policies with a base class the project index cannot
    read.

    ## Example
    ```python
    from rest_access_policy import AccessPolicy


    class ArticleAccessPolicy(AccessPolicy):
        statements = [
            {"action": ["list", "retrieve"], "principal": "*", "effect": "allow"},
            {
                "action": ["destroy"],
                "principal": ["authenticated"],
                "effect": "allow",
                "conditions": "is_author",
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
            {"action": ["list", "retrieve"], "principal": "*", "effect": "allow"},
            {
                "action": ["destroy"],
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
    - `django-safety-cache-dir`

    ## References
    - [drf-access-policy: statement elements](https://rsinger86.github.io/drf-access-policy/policy_logic/)
    - [drf-access-policy: the Statement dataclass](https://rsinger86.github.io/drf-access-policy/statement_dataclass/)
    - [Django: permissions and authorization](https://docs.djangoproject.com/en/stable/topics/auth/default/#permissions-and-authorization)
    """

    code = "DJS902"
    name = "access-policy-statement-shape"
    message = "Access policy statement {problem}"
    options = ("test_patterns", "cache_dir")

    def check(self, policy: Policy, statement: Statement) -> None:
        fails = "raises when the module is imported" if statement.is_call else None
        if not statement.open:
            for key in ("principal", "action"):
                if key not in statement.entries:
                    self._report(
                        statement.node,
                        f"has no `{key}`: "
                        + (fails or f"`{policy.ref.facts.name}` raises KeyError on every request it checks"),
                    )
            if not statement.is_call and "effect" not in statement.entries:
                self._report(statement.node, "has no `effect`: every request it matches fails with KeyError")
        effect = statement.entries.get("effect")
        if effect is not None and isinstance(effect.value, cst.SimpleString):
            value = effect.value.evaluated_value
            if value not in ("allow", "deny"):
                consequence = fails or (
                    "the statement denies what it was written to allow"
                    if str(value).strip().lower() == "allow"
                    else "the statement counts as a deny"
                )
                self._report(effect.value, f'has effect {effect.value.value}, not "allow" or "deny": {consequence}')
        for entry in statement.unknown:
            consequence = fails or (
                "ignored, so the statement applies without its condition"
                if entry.key.lower().startswith("condition")
                else "ignored by drf-access-policy"
            )
            self._report(entry.key_node, f"has unknown key `{entry.key}`: {consequence}")

    def _report(self, node: libcst.CSTNode, problem: str) -> None:
        self.report(node, self.message.format(problem=problem))
