"""What counts as a secret-like value (RULES.md, DJS101), shared by DJS1xx rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flake8_django_safety._lazy import cst

from flake8_django_safety.imports import ImportTracker
from flake8_django_safety.rule import FileContext, Rule
from flake8_django_safety.settings import Settings

from flake8_django_safety.prefilter import TRANSPARENT_METHODS, secret_word, segments_of

#: Calls that return their (single) argument's value in another type or case.
_TRANSPARENT_METHODS = TRANSPARENT_METHODS
_TRANSPARENT_FUNCTIONS = frozenset(
    {"str", "bytes", "force_bytes", "force_str", "smart_bytes", "smart_str"}
)
_ETAG_HEADERS = frozenset({"ifnonematch", "ifmatch", "httpifnonematch", "httpifmatch"})
_DIGEST_METHODS = frozenset({"hexdigest", "digest"})
_HMAC_CONSTRUCTORS = frozenset({"hmac.new", "hmac.HMAC"})
_SIGNERS = frozenset({"django.core.signing.TimestampSigner", "django.core.signing.Signer"})


segments = segments_of


@dataclass(frozen=True)
class SecretLike:
    """Why an operand is secret-like: its source text and the word that decided."""

    text: str
    word: str
    #: Where a server-computed secret came from: ``"hmac"`` (a keyed digest or
    #: signed token) or ``"computed"`` (``totp()``, ``token_urlsafe()``); None
    #: when the value is secret only by its name.
    origin: str | None = None
    #: The identifier itself carries the secret word (``raw_key_token``).
    named: bool = False

    @property
    def keyed(self) -> bool:
        """Computed by the server: the expected side of a verification."""
        return self.origin is not None


class SecretJudge:
    """Decides whether an expression is secret-like, per the settings' word lists."""

    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.imports: ImportTracker = context.imports
        self._metadata_words = context.settings.metadata_segments
        self._cache: dict[str, str | None] = {}

    # -- identifiers ------------------------------------------------------------

    def secret_word(self, identifier: str) -> str | None:
        """The secret segment of ``identifier``, unless a metadata segment vetoes it."""
        if identifier in self._cache:
            return self._cache[identifier]
        found = self._secret_word(segments(identifier))
        self._cache[identifier] = found
        return found

    def _secret_word(self, parts: list[str]) -> str | None:
        return secret_word(parts, self.context.settings)

    # -- expressions ------------------------------------------------------------

    def judge(
        self,
        node: cst.BaseExpression,
        bound: dict[str, SecretLike] | None = None,
        *,
        keyed: bool = True,
    ) -> SecretLike | None:
        """The reason ``node`` is secret-like, or None.

        ``bound`` maps local names to the secret-like values they were bound to;
        ``keyed`` counts keyed digests and signed tokens (HMAC output) as secrets.
        """
        node = unwrap(node, self.imports)
        text = self.context.code_for(node)
        if isinstance(node, cst.Name):
            # An upper-case module name is a constant: a sentinel or a choice.
            word = None if is_constant(node.value) else self.secret_word(node.value)
            if bound is not None and node.value in bound:
                origin = bound[node.value]
                return SecretLike(text, word or origin.word, origin.origin, named=word is not None)
            return SecretLike(text, word, named=True) if word else None
        if isinstance(node, cst.Attribute):
            if is_constant(node.attr.value) and not through_settings(node):
                return None  # ``Restriction.PASSWORD``, ``Type.TOTP``: choices, not secrets
            word = self.secret_word(node.attr.value)
            return SecretLike(text, word, named=True) if word else None
        key = string_key(node)
        if key is not None:
            word = self.secret_word(key)
            return SecretLike(text, word, named=True) if word else None
        if isinstance(node, cst.Call):
            if keyed and self.is_keyed_digest(node):
                return SecretLike(text, "hmac", "hmac")
            if keyed and (word := self._computes_secret(node)):
                return SecretLike(text, word, "computed")
            return None
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression):
                    found = self.judge(part.expression, bound, keyed=keyed)
                    if found is not None:
                        return SecretLike(text, found.word, found.origin, found.named)
            return None
        if isinstance(node, cst.ConcatenatedString):
            return self._first(text, (node.left, node.right), bound, keyed)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            return self._first(text, (node.left, node.right), bound, keyed)
        return None

    def _first(
        self,
        text: str,
        parts: tuple[cst.BaseExpression, ...],
        bound: dict[str, SecretLike] | None,
        keyed: bool,
    ) -> SecretLike | None:
        for part in parts:
            found = self.judge(part, bound, keyed=keyed)
            if found is not None:
                return SecretLike(text, found.word, found.origin, found.named)
        return None

    def is_keyed_digest(self, call: cst.Call) -> bool:
        """``hmac.new(...).hexdigest()``, ``salted_hmac(...)``, ``make_token()``, signing."""
        func = call.func
        if isinstance(func, cst.Attribute):
            if func.attr.value == "make_token":
                return True
            if isinstance(func.value, cst.Call):
                inner = self._callee(func.value)
                if func.attr.value in _DIGEST_METHODS and (
                    inner in _HMAC_CONSTRUCTORS or inner.endswith("salted_hmac")
                ):
                    return True
                if func.attr.value == "sign" and inner in _SIGNERS:
                    return True
        callee = self._callee(call)
        return callee in ("hmac.digest", "django.core.signing.dumps") or callee.endswith(
            ("salted_hmac", "make_token")
        )

    def _computes_secret(self, call: cst.Call) -> str | None:
        """``totp(key, step)``, ``self.token()``, ``get_token(request)``: the server's value."""
        func = call.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if not isinstance(name, str) or name in _TRANSPARENT_FUNCTIONS:
            return None
        parts = [part for part in segments(name) if part not in ("get", "compute", "generate", "make", "calc", "calculate")]
        return self._secret_word(parts) if parts else None

    def _callee(self, call: cst.Call) -> str:
        qualified = self.imports.qualify(call.func)
        if qualified is not None:
            return qualified
        return call.func.value if isinstance(call.func, cst.Name) else ""

    def is_metadata(self, node: cst.BaseExpression) -> bool:
        """An operand named as metadata (``auth.type``, ``x["token_type"]``)."""
        node = unwrap(node, self.imports)
        identifier = _identifier(node)
        return identifier is not None and any(
            part in self._metadata_words for part in segments(identifier)
        )

    def is_etag_header(self, node: cst.BaseExpression) -> bool:
        key = string_key(unwrap(node, self.imports))
        return key is not None and re.sub(r"[-_ ]", "", key.lower()) in _ETAG_HEADERS


#: Words that tell a confirmation field from the field it confirms.
_CONFIRMATION_WORDS = frozenset(
    {"repeat", "repeated", "confirm", "confirmation", "confirmed", "again", "retype",
     "verify", "verification", "check", "new", "old"}
)  # fmt: skip


def confirmation_pair(
    left: cst.BaseExpression, right: cst.BaseExpression, imports: ImportTracker
) -> bool:
    """``password1`` / ``password2``, ``new_pw`` / ``new_pw_repeat``: a value and its retyping."""
    names = [_identifier(unwrap(node, imports)) for node in (left, right)]
    if None in names or names[0] == names[1]:
        return False
    stems = [
        [p for p in segments(name) if not p.isdigit() and p not in _CONFIRMATION_WORDS]
        for name in names
        if name is not None
    ]
    return bool(stems[0]) and stems[0] == stems[1]


def _identifier(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return string_key(node)


def is_constant(identifier: str) -> bool:
    return identifier.isupper() and any(c.isalpha() for c in identifier)


def through_settings(node: cst.Attribute) -> bool:
    """``settings.API_TOKEN``, ``app_settings.TOTP_CODE``, ``conf.SECRET``."""
    base: cst.BaseExpression = node.value
    while isinstance(base, cst.Attribute):
        if "settings" in base.attr.value.lower():
            return True
        base = base.value
    return isinstance(base, cst.Name) and (
        "settings" in base.value.lower() or base.value.lower() in ("conf", "config")
    )


def unwrap(node: cst.BaseExpression, imports: ImportTracker) -> cst.BaseExpression:
    """Strip ``.encode()``, ``force_bytes()``, ``str()`` and similar conversions."""
    while isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TRANSPARENT_METHODS:
            node = func.value
            continue
        name = imports.qualify(func) or (func.value if isinstance(func, cst.Name) else "")
        if name.rsplit(".", 1)[-1] in _TRANSPARENT_FUNCTIONS and len(node.args) >= 1:
            node = node.args[0].value
            continue
        break
    return node


def string_key(node: cst.BaseExpression) -> str | None:
    """The literal key of ``x["key"]`` or ``x.get("key", ...)``."""
    key: cst.BaseExpression | None = None
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        element = node.slice[0].slice
        if isinstance(element, cst.Index):
            key = element.value
    elif (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "get"
        and node.args
        and node.args[0].keyword is None
    ):
        key = node.args[0].value
    if isinstance(key, cst.SimpleString):
        value = literal_value(key)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return value if isinstance(value, str) else None
    return None


def literal_value(node: cst.SimpleString) -> Any:
    """The value of a string literal, or None when libcst cannot evaluate it."""
    try:
        return node.evaluated_value
    except Exception:  # noqa: BLE001 - odd prefixes or escapes: treat as unknown
        return None


#: Names whose attributes lead to what the client sent.
_REQUEST_ROOTS = frozenset({"request", "kwargs"})
#: Attributes of a request (or view) that hold client data.
_CLIENT_CONTAINERS = frozenset(
    {"GET", "POST", "headers", "META", "COOKIES", "body", "data", "query_params",
     "FILES", "kwargs", "args", "content_params"}
)  # fmt: skip
#: Methods that read a value out of a client container.
_READS = frozenset({"get", "getlist", "pop", "lower", "upper", "strip", "encode", "decode"})


@dataclass
class Scope:
    """What one function has bound so far."""

    secrets: dict[str, SecretLike] = field(default_factory=dict)
    #: Locals bound to request data (``provided = request.GET["token"]``).
    from_request: set[str] = field(default_factory=set)
    #: Locals bound to the server-side session (``expected = request.session["state"]``).
    from_session: set[str] = field(default_factory=set)
    parameters: frozenset[str] = frozenset()


class SecretRule(Rule):
    """Base of the DJS1xx rules: tracks, per function, names bound to secrets and to request data."""

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.judge = SecretJudge(context)
        self.scopes: list[Scope] = [Scope()]
        self.functions: list[str] = []

    @classmethod
    def applies_to_file(cls, filename: str, settings: Settings) -> bool:
        return not settings.is_test_file(filename)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = node.params
        names = [
            param.name.value
            for param in (*params.posonly_params, *params.params, *params.kwonly_params)
        ]
        self.scopes.append(Scope(parameters=frozenset(names)))
        self.functions.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()
        self.functions.pop()

    def leave_Assign(self, original_node: cst.Assign) -> None:
        if len(original_node.targets) == 1:
            self._bind(original_node.targets[0].target, original_node.value)

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        if original_node.value is not None:
            self._bind(original_node.target, original_node.value)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Tuple):
            # ``nonce, rest = re.split(p, request.GET["state"])``: parts of client data.
            client = self.from_request(value)
            for element in target.elements:
                if isinstance(element.value, cst.Name):
                    scope = self.scopes[-1]
                    scope.secrets.pop(element.value.value, None)
                    scope.from_session.discard(element.value.value)
                    if client:
                        scope.from_request.add(element.value.value)
                    else:
                        scope.from_request.discard(element.value.value)
            return
        if not isinstance(target, cst.Name):
            return
        scope = self.scopes[-1]
        found = self.judge.judge(value, scope.secrets)
        if found is not None:
            scope.secrets[target.value] = found
        else:
            scope.secrets.pop(target.value, None)
        scope.from_request.discard(target.value)
        scope.from_session.discard(target.value)
        if self.from_session(value):
            scope.from_session.add(target.value)
        elif self.from_request(value):
            scope.from_request.add(target.value)
        self.bound(target.value, value)

    def bound(self, name: str, value: cst.BaseExpression) -> None:
        """Hook: ``name`` was just bound to ``value`` in the current function."""

    def secret(self, node: cst.BaseExpression, *, keyed: bool = True) -> SecretLike | None:
        """Whether ``node`` is secret-like here, including names bound to secrets."""
        return self.judge.judge(node, self.scopes[-1].secrets, keyed=keyed)

    def from_session(self, node: cst.BaseExpression) -> bool:
        """``request.session["state"]`` (server-side storage), or a local bound to it."""
        node = unwrap(node, self.judge.imports)
        while isinstance(node, (cst.Attribute, cst.Subscript, cst.Call)):
            if isinstance(node, cst.Attribute):
                if node.attr.value == "session" and self._request_root(node.value):
                    return True
                node = node.value
            elif isinstance(node, cst.Subscript):
                node = node.value
            else:
                node = node.func
        return isinstance(node, cst.Name) and node.value in self.scopes[-1].from_session

    def from_request(self, node: cst.BaseExpression) -> bool:
        """Data the client sent: ``request.GET["token"]``, ``request.headers.get(...)``,
        ``self.kwargs["secret"]``, a function of those (``re.split(p, request.GET["s"])``),
        or a local bound to one. The session, ``request.user`` and rows looked up
        through the request are the server's data."""
        if self.from_session(node):
            return False
        node = unwrap(node, self.judge.imports)
        if isinstance(node, cst.FormattedString):
            return any(
                self.from_request(part.expression)
                for part in node.parts
                if isinstance(part, cst.FormattedStringExpression)
            )
        if isinstance(node, cst.BinaryOperation):
            return self.from_request(node.left) or self.from_request(node.right)
        if isinstance(node, cst.Call) and self._transforms(node.func):
            return any(self.from_request(arg.value) for arg in node.args)  # int(), re.split()
        through_container = via_request = False
        while True:
            if isinstance(node, cst.Attribute):
                if node.attr.value in _CLIENT_CONTAINERS:
                    through_container = True
                elif node.attr.value == "request" and through_container:
                    via_request = True
                node = node.value
            elif isinstance(node, cst.Subscript):
                node = node.value
            elif isinstance(node, cst.Call):
                if not isinstance(node.func, cst.Attribute) or node.func.attr.value not in _READS:
                    return False  # a query or method result is the server's
                node = node.func.value
            else:
                break
        if not isinstance(node, cst.Name):
            return False
        if node.value in self.scopes[-1].from_request:
            return True
        return node.value == "kwargs" or via_request or (
            through_container and node.value in ("request", "self")
        )

    def _transforms(self, func: cst.BaseExpression) -> bool:
        """A plain function (``int``, ``re.split``, ``base64.b64decode``): its result is
        made of its arguments. Methods of classes (``stripe.Source.retrieve``,
        ``Order.objects.get``) look things up, and their results are the server's."""
        if isinstance(func, cst.Name):
            return True
        qualified = self.judge.imports.qualify(func)
        if qualified is None:
            return False
        parts = qualified.split(".")
        return not any(part[:1].isupper() or part in _CLIENT_CONTAINERS or part == "request" for part in parts[:-1])

    def _request_root(self, node: cst.BaseExpression) -> bool:
        while isinstance(node, cst.Attribute):
            if node.attr.value in _REQUEST_ROOTS:
                return True
            node = node.value
        return isinstance(node, cst.Name) and node.value in _REQUEST_ROOTS

    def is_parameter(self, node: cst.BaseExpression) -> bool:
        node = unwrap(node, self.judge.imports)
        return isinstance(node, cst.Name) and node.value in self.scopes[-1].parameters
