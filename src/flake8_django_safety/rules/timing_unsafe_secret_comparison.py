from __future__ import annotations

import keyword
import re

import libcst as cst
import libcst.matchers as m

from flake8_django_safety.prefilter import SourceText
from flake8_django_safety.rule import FileContext, Fix, ImportRequest, Safety
from flake8_django_safety.secretlike import SecretLike, SecretRule, confirmation_pair, literal_value
from flake8_django_safety.settings import Settings

_CONSTANT_TIME_COMPARE = "django.utils.crypto.constant_time_compare"
_IDENTITY_METHODS = frozenset({"__eq__", "__ne__", "__hash__"})
_KEYED_TRIGGERS = ("hmac", "make_token", "signing", "signer")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_NOT_NAMES = frozenset(keyword.kwlist) | {"none", "true", "false", "self", "len"}


class TimingUnsafeSecretComparison(SecretRule):
    """
    ## What it does
    Flags `==` and `!=` where one operand is secret-like: a name, attribute or
    string key containing a word such as `token`, `secret`, `signature`,
    `password`, `otp` or `api_key`; a keyed digest or signed token
    (`hmac.new(...).hexdigest()`, `salted_hmac(...)`, `make_token(...)`,
    `signing.dumps(...)`); a local name bound to one of those earlier in the
    same function; or an f-string or concatenation that contains one.

    ## Why is this bad?
    Python's string equality returns at the first character that differs, so
    the time a comparison takes tells an attacker how much of a guessed token
    was right. Over many requests the token can be rebuilt character by
    character. `constant_time_compare()` (or `hmac.compare_digest()`) takes the
    same time whatever the inputs hold.

    ## Known problems
    Identifiers that also carry a metadata word (`token_type`, `password_length`,
    `signature_header`, `is_secret`) are left alone, and so are comparisons with
    `None`, booleans, numbers, empty strings and `len(...)`, comparisons inside
    `__eq__`/`__ne__`/`__hash__`, ETag comparisons and test modules. Chained
    comparisons (`a == b == c`) are reported once per unsafe operator without a fix.

    ## Example
    ```python
    import hashlib
    import hmac

    from django.conf import settings
    from django.http import HttpResponseForbidden


    def github_webhook(request):
        expected = "sha256=" + hmac.new(
            settings.GITHUB_WEBHOOK_SECRET.encode(), request.body, hashlib.sha256
        ).hexdigest()
        if request.headers["X-Hub-Signature-256"] != expected:
            return HttpResponseForbidden()
    ```

    ## Use instead
    ```python
    import hashlib
    import hmac

    from django.conf import settings
    from django.http import HttpResponseForbidden
    from django.utils.crypto import constant_time_compare


    def github_webhook(request):
        expected = "sha256=" + hmac.new(
            settings.GITHUB_WEBHOOK_SECRET.encode(), request.body, hashlib.sha256
        ).hexdigest()
        if not constant_time_compare(request.headers["X-Hub-Signature-256"], expected):
            return HttpResponseForbidden()
    ```

    ## Options
    - `django-safety-secret-words`
    - `django-safety-extend-secret-words`
    - `django-safety-metadata-words`
    - `django-safety-extend-metadata-words`
    - `django-safety-test-patterns`

    ## Fix safety
    The fix is safe: `a == b` becomes `constant_time_compare(a, b)` and `a != b`
    becomes `not constant_time_compare(a, b)`, importing `constant_time_compare`
    from `django.utils.crypto` unless the module already imports it (under any
    alias). For `str` and `bytes` operands the result is the same. Django's
    function encodes both operands with `force_bytes()` first, so `None` would
    compare equal to the string `"None"`; operands compared with a literal `None`
    are never reported. No fix is offered when the comparison carries comments.

    ## References
    - [Django: `constant_time_compare`](https://docs.djangoproject.com/en/stable/ref/utils/#django.utils.crypto.constant_time_compare)
    - [Python: `hmac.compare_digest`](https://docs.python.org/3/library/hmac.html#hmac.compare_digest)
    - [CWE-208: Observable Timing Discrepancy](https://cwe.mitre.org/data/definitions/208.html)
    """

    code = "DJS101"
    name = "timing-unsafe-secret-comparison"
    message = "Secret-like `{operand}` compared with `{operator}` leaks timing; use `constant_time_compare()`"
    fix_safety = Safety.SAFE
    options = (
        "secret_words",
        "extend_secret_words",
        "metadata_words",
        "extend_metadata_words",
        "test_patterns",
    )

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        lines = text.comparison_lines
        if not lines:
            return False
        words = settings.secret_substrings
        if any(word in line for line in lines for word in words):
            return True
        lower = text.lower
        if any(trigger in lower for trigger in _KEYED_TRIGGERS):
            return True
        # A name compared here may have been bound to a secret on another line.
        names = {name for line in lines for name in _IDENTIFIER.findall(line)} - _NOT_NAMES
        for name in names:
            position = lower.find(f"{name} = ")
            while position != -1:
                before = lower[position - 1] if position else "\n"
                if not (before.isalnum() or before in "_.") and any(
                    word in text.line_of(position) for word in words
                ):
                    return True
                position = lower.find(f"{name} = ", position + 1)
        return False

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.change_checks: set[int] = set()

    def visit_If(self, node: cst.If) -> None:
        # ``if stored != current: stored = current`` detects a change; nothing to guess.
        test = node.test
        if not (
            isinstance(test, cst.Comparison)
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.NotEqual)
        ):
            return
        operands = {_as_lookup(self.context, test.left), _as_lookup(self.context, test.comparisons[0].comparator)}
        for statement in node.body.body if isinstance(node.body, cst.IndentedBlock) else ():
            for small in getattr(statement, "body", ()):
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    pair = {
                        _as_lookup(self.context, small.targets[0].target),
                        _as_lookup(self.context, small.value),
                    }
                    if pair == operands:
                        self.change_checks.add(id(test))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if _IDENTITY_METHODS.intersection(self.functions) or id(node) in self.change_checks:
            return
        operands = [node.left, *(target.comparator for target in node.comparisons)]
        unsafe: list[tuple[cst.BaseExpression, str, SecretLike]] = []
        for index, target in enumerate(node.comparisons):
            if not isinstance(target.operator, (cst.Equal, cst.NotEqual)):
                continue
            found = self._unsafe_pair(operands[index], operands[index + 1])
            if found is not None:
                operator = "==" if isinstance(target.operator, cst.Equal) else "!="
                unsafe.append((operands[index], operator, found))
        if len(node.comparisons) > 1:
            for left, operator, found in unsafe:
                self.report(left, self.message.format(operand=found.text, operator=operator))
        elif unsafe:
            _, operator, found = unsafe[0]
            message = self.message.format(operand=found.text, operator=operator)
            self.report(node, message, self._fix(node))

    def _unsafe_pair(self, left: cst.BaseExpression, right: cst.BaseExpression) -> SecretLike | None:
        if self._silences(left) or self._silences(right):
            return None
        found_left, found_right = self.secret(left), self.secret(right)
        if found_left and found_right:
            if confirmation_pair(left, right, self.context.imports):
                return None  # ``password1 != password2``: both typed by the same user
        elif (found_left and self.judge.is_metadata(right)) or (
            found_right and self.judge.is_metadata(left)
        ):
            return None  # ``auth.type == Type.TOTP``: metadata compared, not a secret
        return found_left or found_right

    def _silences(self, node: cst.BaseExpression) -> bool:
        """An operand that makes the comparison leak nothing worth reporting."""
        if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
            return True
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            node = node.expression
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
            return True
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)) and not _looks_random(node):
            return True  # ``token == "is"``, ``csrf_token == "NOTPROVIDED"``: public words
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len":
            return True
        return self.judge.is_etag_header(node)

    def _fix(self, node: cst.Comparison) -> Fix | None:
        target = node.comparisons[0]
        if _has_comment(target.operator):
            return None
        reference = self.context.imports.local_reference(_CONSTANT_TIME_COMPARE)
        imports: tuple[ImportRequest, ...] = ()
        if reference is None:
            reference = "constant_time_compare"
            imports = (ImportRequest("django.utils.crypto", "constant_time_compare"),)
        call = cst.Call(
            func=cst.parse_expression(reference),
            args=[
                cst.Arg(node.left),
                cst.Arg(target.comparator),
            ],
        )
        replacement: cst.BaseExpression
        if isinstance(target.operator, cst.Equal):
            replacement = call.with_changes(lpar=node.lpar, rpar=node.rpar)
        else:
            replacement = cst.UnaryOperation(
                operator=cst.Not(), expression=call, lpar=node.lpar, rpar=node.rpar
            )
        return Fix("Use `constant_time_compare()`", Safety.SAFE, node, replacement, imports)


def _looks_random(node: cst.BaseExpression) -> bool:
    """A literal that could be a hard-coded secret: long, no spaces, letters and digits."""
    if not isinstance(node, cst.SimpleString):
        return False
    value = literal_value(node)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return (
        isinstance(value, str)
        and len(value) >= 16
        and " " not in value
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def _as_lookup(context: FileContext, node: cst.BaseExpression) -> str:
    """Source of ``node`` with ``x.get(k)`` spelled ``x[k]``, to match reads and writes."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "get"
        and len(node.args) == 1
    ):
        return f"{context.code_for(node.func.value, 200)}[{context.code_for(node.args[0].value, 200)}]"
    return context.code_for(node, 200)


def _has_comment(operator: cst.CSTNode) -> bool:
    """Comments in the operator's whitespace would be lost by the rewrite."""
    return bool(m.findall(operator, m.Comment()))
