from __future__ import annotations

from flake8_django_safety._lazy import cst

from flake8_django_safety.prefilter import SourceText, secret_on_lines
from flake8_django_safety.rule import FileContext, Finding, Fix, Safety
from flake8_django_safety.secretlike import (
    SecretLike,
    SecretRule,
    confirmation_pair,
    is_constant,
    literal_value,
    segments,
    string_key,
    through_settings,
    unwrap,
)
from flake8_django_safety.settings import Settings
from flake8_django_safety.syntax import has_comment

_CONSTANT_TIME_COMPARE = "django.utils.crypto.constant_time_compare"
_IDENTITY_METHODS = frozenset({"__eq__", "__ne__", "__hash__"})
#: Query methods whose keyword arguments are lookup values.
_LOOKUPS = frozenset(
    {"filter", "exclude", "get", "aget", "get_or_create", "aget_or_create", "get_object_or_404"}
)
_CHANGE_WORDS = frozenset({"changed", "modified", "dirty", "differs", "different", "stale", "rotated"})


class TimingUnsafeSecretComparison(SecretRule):
    """
    ## What it does
    Flags `==` and `!=` between a secret-like value and a value a client can
    choose. Secret-like: a name, attribute or string key containing a word such
    as `token`, `secret`, `signature`, `password`, `otp`, `nonce` or `api_key`;
    a keyed digest or signed token (`hmac.new(...).hexdigest()`,
    `salted_hmac(...)`, `make_token(...)`, `signing.dumps(...)`) or a computed
    one-time code (`totp(...)`, `self.token()`); a local name bound to one of
    those earlier in the same function; or an f-string or concatenation that
    contains one. Reported when one side is request data (`request.GET`,
    `request.headers`, `request.session`, `self.kwargs`, or a local bound to
    them) or when the secret side is a server-computed value, a setting
    (`settings.API_TOKEN`), a hard-coded key, or a secret parameter checked
    against a stored value (`user.api_token == token`).

    ## Why is this bad?
    Python's string equality returns at the first character that differs, so
    the time a comparison takes tells an attacker how much of a guessed token
    was right. Over many requests the token can be rebuilt character by
    character. `constant_time_compare()` (or `hmac.compare_digest()`) takes the
    same time whatever the inputs hold.

    ## Known problems
    A timing attack needs one side the attacker chooses. Comparisons where
    both sides are the server's own values are left alone: token rotation
    (`next_refresh_token == refresh_token`), change detection
    (`if stored != current: stored = current`, `changed = a != b`), a password
    and its confirmation (`password1 != password2`). So are identifiers that
    carry a metadata word (`token_type`, `password_length`, `refresh_token_hash`),
    comparisons with `None`, booleans, numbers, `len(...)`, non-random string
    literals (`token == "is"`) and upper-case constants (`Type.TOTP`), code
    inside `__eq__`/`__ne__`/`__hash__`, ETag comparisons and test modules.
    A secret that reaches the comparison through another function's return
    value is not followed. Chained comparisons (`a == b == c`) are reported
    once per unsafe operator without a fix.

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
        return secret_on_lines(text, text.comparison_lines, settings)

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.change_checks: set[int] = set()
        #: Per function: reports held until the function ends, with the names
        #: they compare; and the names the function looks rows up by.
        self.held: list[list[tuple[frozenset[str], Finding]]] = [[]]
        self.lookup_keys: list[set[str]] = [set()]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.held.append([])
        self.lookup_keys.append(set())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self._release(self.held.pop(), self.lookup_keys.pop())

    def leave_Module(self, original_node: cst.Module) -> None:
        self._release(self.held[0], self.lookup_keys[0])

    def _release(self, held: list[tuple[frozenset[str], Finding]], keys: set[str]) -> None:
        # A value rows are looked up by (``filter(nonce=nonce)``) is an identifier:
        # the query answers what a timing attack would ask, and no compare fixes it.
        self.findings.extend(finding for names, finding in held if not names & keys)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _LOOKUPS:
            for arg in node.args:
                if arg.keyword is not None and isinstance(arg.value, cst.Name):
                    self.lookup_keys[-1].add(arg.value.value)

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None) -> None:
        names = frozenset(
            operand.value for operand in _operands(node) if isinstance(operand, cst.Name)
        )
        self.held[-1].append((names, Finding(self.code, message, node, fix)))

    def visit_If(self, node: cst.If) -> None:
        # ``if stored != current: stored = current`` (or ``return current``) detects
        # a change of the server's own value; there is nothing to guess.
        if not isinstance(node.body, cst.IndentedBlock):
            return
        for comparison in _comparisons_in(node.test):
            target = comparison.comparisons[0]
            if len(comparison.comparisons) != 1 or not isinstance(target.operator, cst.NotEqual):
                continue
            operands = {
                _as_lookup(self.context, comparison.left),
                _as_lookup(self.context, target.comparator),
            }
            if self._body_passes_on(node.body, operands):
                self.change_checks.add(id(comparison))

    def _body_passes_on(self, body: cst.IndentedBlock, operands: set[str]) -> bool:
        for statement in body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    written = {
                        _as_lookup(self.context, small.targets[0].target),
                        _as_lookup(self.context, small.value),
                    }
                    if written == operands:
                        return True
                if isinstance(small, cst.Return) and small.value is not None:
                    values = small.value.elements if isinstance(small.value, cst.Tuple) else [small.value]
                    for value in values:
                        node = value.value if isinstance(value, cst.BaseElement) else value
                        if _as_lookup(self.context, node) in operands:
                            return True
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        # ``changed = position.secret != secret``: change detection by name.
        target = node.targets[0].target if len(node.targets) == 1 else None
        if (
            isinstance(target, cst.Name)
            and isinstance(node.value, cst.Comparison)
            and _CHANGE_WORDS.intersection(segments(target.value))
        ):
            self.change_checks.add(id(node.value))

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
        found = found_left or found_right
        if found is None or not self._attacker_can_probe(left, right, found_left, found_right):
            return None
        return found

    def _attacker_can_probe(
        self,
        left: cst.BaseExpression,
        right: cst.BaseExpression,
        found_left: SecretLike | None,
        found_right: SecretLike | None,
    ) -> bool:
        """Timing leaks only when a client's value meets a secret the server keeps.

        The client's side is request data (not the session); a bare parameter may
        be client data too. The server's side is a keyed digest, a setting, the
        session, a hard-coded key, or a stored value (``user.api_token``).
        """
        client_left, client_right = self.from_request(left), self.from_request(right)
        if client_left != client_right:
            other = right if client_left else left
            if self._server_side(other):
                return True
        if _looks_random(left) or _looks_random(right):
            return True
        for found, node, other in ((found_left, left, right), (found_right, right, left)):
            if found is None:
                continue
            if found.origin == "hmac" or _is_setting(node):
                return True
            if self.is_parameter(node) and not self.from_request(other) and self._stored(other):
                return True
        return False

    def _server_side(self, node: cst.BaseExpression) -> bool:
        """A value the server holds: session, keyed digest, setting, stored attribute."""
        if self.from_session(node):
            return True
        found = self.secret(node)
        if found is not None and (found.origin == "hmac" or _is_setting(unwrap(node, self.context.imports))):
            return True
        target = unwrap(node, self.context.imports)
        if isinstance(target, cst.Name):
            scope = self.scopes[-1]
            return target.value in scope.secrets and not self.is_parameter(target)
        return self._stored(node)

    def _stored(self, node: cst.BaseExpression) -> bool:
        target = unwrap(node, self.context.imports)
        return isinstance(target, (cst.Attribute, cst.Subscript)) or string_key(target) is not None

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
        if _is_public_constant(node):
            return True  # ``token_start == BLOCK_TAG_START``: a constant in the source
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len":
            return True
        return self.judge.is_etag_header(node)

    def _fix(self, node: cst.Comparison) -> Fix | None:
        target = node.comparisons[0]
        if has_comment(target.operator):  # the rewrite would drop it
            return None
        found = self.context.imports.reference_for_fix(
            _CONSTANT_TIME_COMPARE, "django.utils.crypto", "constant_time_compare"
        )
        if found is None:
            return None
        reference, imports = found
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


def _operands(node: cst.CSTNode) -> list[cst.BaseExpression]:
    if isinstance(node, cst.Comparison):
        return [node.left, *(target.comparator for target in node.comparisons)]
    return [node] if isinstance(node, cst.BaseExpression) else []


def _comparisons_in(test: cst.BaseExpression) -> list[cst.Comparison]:
    """The comparisons an ``if`` test is made of, through ``and`` / ``or``."""
    if isinstance(test, cst.Comparison):
        return [test]
    if isinstance(test, cst.BooleanOperation):
        return _comparisons_in(test.left) + _comparisons_in(test.right)
    return []


def _is_setting(node: cst.BaseExpression) -> bool:
    """``settings.API_TOKEN``, also inside ``f"Bearer {settings.API_TOKEN}"`` or a concatenation."""
    if isinstance(node, cst.FormattedString):
        return any(
            _is_setting(part.expression)
            for part in node.parts
            if isinstance(part, cst.FormattedStringExpression)
        )
    if isinstance(node, cst.BinaryOperation):
        return _is_setting(node.left) or _is_setting(node.right)
    return isinstance(node, cst.Attribute) and through_settings(node)


def _is_public_constant(node: cst.BaseExpression) -> bool:
    """An upper-case module constant or class attribute not read from settings."""
    if isinstance(node, cst.Name):
        return is_constant(node.value)
    return isinstance(node, cst.Attribute) and is_constant(node.attr.value) and not through_settings(node)


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

