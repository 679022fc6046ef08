from __future__ import annotations

import re

from flake8_django_safety.drf import AccessPolicyRule, Policy, Statement

#: Principals drf-access-policy 1.5 knows by name (``_get_statements_matching_principal``).
_NAMED_PRINCIPALS = frozenset({"*", "admin", "staff", "authenticated", "anonymous"})
#: ``<method:get>`` matches ``request.method.lower()``.
_HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "trace"})
_METHOD_ACTION = re.compile(r"<method:([^>]*)>")


class AccessPolicyDeadPrincipalOrAction(AccessPolicyRule):
    """
    ## What it does
    Flags a principal or an action of a drf-access-policy `AccessPolicy`
    statement that can never match a request.

    Flagged:
    - a principal other than `"*"`, `"admin"`, `"staff"`, `"authenticated"`,
      `"anonymous"`, or one starting with the policy's `id_prefix` /
      `group_prefix` (`"id:"` and `"group:"` unless the class, or a project
      base, sets its own);
    - an action `<method:X>` whose `X` is not a lower-case HTTP method
      (`<method:GET>`), or any other `<...>` form than `<safe_methods>` and
      `<method:...>` (`<safe_method>`, `<read_methods>`).

    Reported on the string.

    ## Why is this bad?
    drf-access-policy compares principals and actions as exact strings:
    `"Authenticated"` or `"user:42"` match no user, and `<method:GET>` is
    compared with `<method:get>` (the request method in lower case), so it
    matches no request. An `allow` statement with a dead entry grants nothing,
    and a `deny` statement with one protects nothing, without any error.

    ## Known problems
    Plain action names (`"list"`, `"publish"`) are not checked: they name view
    actions the rule does not see. Policies that compute `id_prefix` or
    `group_prefix`, or override how principals or actions are matched, are
    left alone.

    ## Example
    ```python
    from rest_access_policy import AccessPolicy


    class ReportAccessPolicy(AccessPolicy):
        statements = [
            {"action": ["<method:GET>"], "principal": ["authenticated"], "effect": "allow"},
        ]
    ```

    ## Use instead
    ```python
    from rest_access_policy import AccessPolicy


    class ReportAccessPolicy(AccessPolicy):
        statements = [
            {"action": ["<method:get>"], "principal": ["authenticated"], "effect": "allow"},
        ]
    ```

    ## Options
    - `django-safety-test-patterns`
    - `django-safety-cache-dir`

    ## References
    - [drf-access-policy: statement elements](https://rsinger86.github.io/drf-access-policy/policy_logic/)
    - [Django: permissions and authorization](https://docs.djangoproject.com/en/stable/topics/auth/default/#permissions-and-authorization)
    """

    code = "DJS903"
    name = "access-policy-dead-principal-or-action"
    message = "Statement {kind} `{value}` never matches: {reason}"
    options = ("test_patterns", "cache_dir")

    def check(self, policy: Policy, statement: Statement) -> None:
        if policy.id_prefix is not None and policy.group_prefix is not None:
            prefixes = (policy.id_prefix, policy.group_prefix)
            for value, node in statement.strings("principal"):
                if value in _NAMED_PRINCIPALS or value.startswith(prefixes):
                    continue
                reason = (
                    f'principals are "*", "admin", "staff", "authenticated", "anonymous" '
                    f'or start with "{policy.id_prefix}" / "{policy.group_prefix}"'
                )
                self.report(node, self.message.format(kind="principal", value=value, reason=reason))
        for value, node in statement.strings("action"):
            reason = _dead_action(value)
            if reason is not None:
                self.report(node, self.message.format(kind="action", value=value, reason=reason))


def _dead_action(value: str) -> str | None:
    if not value.startswith("<") or value == "<safe_methods>":
        return None
    method = _METHOD_ACTION.fullmatch(value)
    if method is None:
        return "the only `<...>` actions are `<safe_methods>` and `<method:get>`-style HTTP methods"
    name = method.group(1)
    if name in _HTTP_METHODS:
        return None
    if name.lower() in _HTTP_METHODS:
        return f"the request method is compared in lower case, write `<method:{name.lower()}>`"
    return f"`{name}` is not an HTTP method"
