from __future__ import annotations

from flake8_django_safety._lazy import cst

from flake8_django_safety.prefilter import SourceText, secret_on_lines
from flake8_django_safety.rule import FileContext, Finding
from flake8_django_safety.secretlike import SecretLike, SecretRule, segments, unwrap
from flake8_django_safety.settings import Settings

_FAST_HASHES = frozenset(
    f"hashlib.{name}"
    for name in (
        "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
        "sha3_224", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s", "new",
    )
)  # fmt: skip
#: Text on a line that may construct or feed a hash object.
_HASH_CALLS = ("md5", "sha", "blake2", ".new(", ".update(")
#: Secrets a person chooses or reads off a device: few enough to enumerate.
_LOW_ENTROPY = frozenset({"password", "passwd", "pwd", "pin", "otp", "totp", "hotp"})


class UnkeyedHashOfSecret(SecretRule):
    """
    ## What it does
    Flags a fast unkeyed hash of a secret-like value. The hashes are
    `hashlib.sha256()`, `sha1()`, `md5()`, `sha512()`, `blake2b()`,
    `hashlib.new()` and the rest of the family, also imported bare; the value
    is a secret-like name, attribute or key as DJS101 defines it, reached
    directly (through `.encode()`, `force_bytes()`, `str()`, f-strings or
    concatenation with literals) or fed to the hash object through
    `.update(...)`.

    ## Why is this bad?
    Without a server-side key, anyone who can guess or obtain the token can
    recompute the stored digest, and a leaked table of digests is a lookup
    table: fast hashes of passwords, PINs and one-time codes are brute-forced
    in seconds. A keyed digest (`salted_hmac()`) cannot be recomputed without
    the server's key; low-entropy secrets need a slow, salted password hash.

    ## Known problems
    Hashes of `SECRET_KEY`-like values (`secret_key`, `SECRET_KEY`) are left
    alone: they derive key material from the server's key, which is what a
    keyed digest does. HMAC output (`hmac.new(...).hexdigest()`) fed to a hash
    is already keyed and is not reported.

    ## Example
    ```python
    import hashlib

    from shop.models import ApiKey


    def store_api_key(user, raw_key_token):
        digest = hashlib.sha256(raw_key_token.encode()).hexdigest()
        return ApiKey.objects.create(user=user, digest=digest)
    ```

    ## Use instead
    ```python
    from django.utils.crypto import salted_hmac

    from shop.models import ApiKey


    def store_api_key(user, raw_key_token):
        digest = salted_hmac("shop.api-key", raw_key_token, algorithm="sha256").hexdigest()
        return ApiKey.objects.create(user=user, digest=digest)
    ```

    For passwords, PINs and one-time codes use
    `django.contrib.auth.hashers.make_password()` to store and
    `check_password()` to verify.

    ## Options
    - `django-safety-secret-words`
    - `django-safety-extend-secret-words`
    - `django-safety-metadata-words`
    - `django-safety-extend-metadata-words`
    - `django-safety-test-patterns`

    ## References
    - [Django: `salted_hmac`](https://docs.djangoproject.com/en/stable/topics/signing/)
    - [Django: password management, `make_password`](https://docs.djangoproject.com/en/stable/topics/auth/passwords/#manually-managing-a-user-s-password)
    - [CWE-916: Use of Password Hash With Insufficient Computational Effort](https://cwe.mitre.org/data/definitions/916.html)
    """

    code = "DJS102"
    name = "unkeyed-hash-of-secret"
    message = "Unkeyed `{hash}` of secret-like `{operand}` can be recomputed by anyone who obtains it; use {suggestion}"
    options = (
        "secret_words",
        "extend_secret_words",
        "metadata_words",
        "extend_metadata_words",
        "test_patterns",
    )

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.hash_objects: list[dict[str, str]] = [{}]
        #: Per function: what each local was last bound to.
        self.values: list[dict[str, cst.BaseExpression]] = [{}]
        #: Per function: findings on digests bound to a name, held back until we know
        #: whether the name keys an HMAC; and the names that do.
        self.pending: list[list[tuple[str, Finding]]] = [[]]
        self.hmac_keys: list[set[str]] = [set()]
        self.hmac_key_nodes: set[int] = set()
        self.assigning: str | None = None

    @classmethod
    def triggered_by(cls, text: SourceText, settings: Settings) -> bool:
        if "hashlib" not in text.text:
            return False
        return secret_on_lines(text, text.lines_with(_HASH_CALLS), settings)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.hash_objects.append({})
        self.values.append({})
        self.pending.append([])
        self.hmac_keys.append(set())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self.hash_objects.pop()
        self.values.pop()
        self._flush(self.pending.pop(), self.hmac_keys.pop())

    def leave_Module(self, original_node: cst.Module) -> None:
        self._flush(self.pending[0], self.hmac_keys[0])

    def _flush(self, pending: list[tuple[str, Finding]], keys: set[str]) -> None:
        for name, finding in pending:
            if name not in keys:  # a digest that keys an HMAC is key derivation
                self.findings.append(finding)

    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[0].target if len(node.targets) == 1 else None
        self.assigning = target.value if isinstance(target, cst.Name) else None

    def leave_Assign(self, original_node: cst.Assign) -> None:
        super().leave_Assign(original_node)
        self.assigning = None

    def bound(self, name: str, value: cst.BaseExpression) -> None:
        self.values[-1][name] = value
        objects = self.hash_objects[-1]
        if isinstance(value, cst.Call) and (hash_name := self._fast_hash(value)):
            objects[name] = hash_name
        else:
            objects.pop(name, None)

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.imports.qualify(node.func) in ("hmac.new", "hmac.HMAC") and node.args:
            key = node.args[0].value
            if isinstance(key, cst.Name):
                self.hmac_keys[-1].add(key.value)
            import libcst.matchers as m

            for call in m.findall(key, m.Call()):
                self.hmac_key_nodes.add(id(call))
        if id(node) in self.hmac_key_nodes:
            return
        hash_name = self._fast_hash(node)
        if hash_name is not None:
            data = _data_argument(node, "hashlib.new" == hash_name)
            label = f"{hash_name}()"
        elif (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "update"
            and isinstance(node.func.value, cst.Name)
            and node.func.value.value in self.hash_objects[-1]
            and node.args
        ):
            data = node.args[0].value
            label = f"{self.hash_objects[-1][node.func.value.value]}().update()"
        else:
            return
        if data is None:
            return
        found = self.secret(data, keyed=False)
        # HMAC output is keyed already; an unnamed server-computed value
        # (``code_verifier = token_urlsafe()``) hashed is a commitment such as a
        # PKCE challenge, not a stored secret.
        if (
            found is None
            or found.origin == "hmac"
            or (found.origin == "computed" and not found.named)
            or _is_key_material(found)
            or _mixed_with_data(data, self)
        ):
            return
        source = self._bound_value(data)
        if source is not None and (
            _mixed_with_data(source, self) or ((origin := self.secret(source, keyed=False)) and _is_key_material(origin))
        ):
            return  # ``payload = appid + text + secret`` / ``key = force_bytes(settings.SECRET_KEY)``, then hashed
        message = self.message.format(hash=label, operand=found.text, suggestion=_suggestion(found))
        if self.assigning is not None:
            self.pending[-1].append((self.assigning, Finding(self.code, message, node)))
        else:
            self.report(node, message)

    def _bound_value(self, data: cst.BaseExpression) -> cst.BaseExpression | None:
        """What the local that ``data`` reads (``payload.encode()``) was bound to, in this function."""
        node = unwrap(data, self.context.imports)
        return self.values[-1].get(node.value) if isinstance(node, cst.Name) else None

    def _fast_hash(self, call: cst.Call) -> str | None:
        qualified = self.context.imports.qualify(call.func)
        return qualified if qualified in _FAST_HASHES else None


def _data_argument(call: cst.Call, named_constructor: bool) -> cst.BaseExpression | None:
    """The data a hash constructor is seeded with (``hashlib.new(name, data)``)."""
    position = 1 if named_constructor else 0
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    if len(positional) > position:
        return positional[position].value
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("data", "string"):
            return arg.value
    return None


def _mixed_with_data(data: cst.BaseExpression, rule: UnkeyedHashOfSecret) -> bool:
    """``md5(params + app.secret)``: a secret mixed with other data keys the digest.

    That is a weak MAC, usually dictated by a provider's API, not an unkeyed hash
    of the secret; literals alone (``f"{token}:"``) add no key.
    """
    parts: list[cst.CSTNode] = []
    pending: list[cst.BaseExpression] = [unwrap(data, rule.context.imports)]
    while pending:
        node = pending.pop()
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            pending += [unwrap(node.left, rule.context.imports), unwrap(node.right, rule.context.imports)]
        elif isinstance(node, cst.FormattedString):
            parts += [p.expression for p in node.parts if isinstance(p, cst.FormattedStringExpression)]
        elif not isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            parts.append(node)
    return len(parts) > 1


def _is_key_material(found: SecretLike) -> bool:
    """``settings.SECRET_KEY`` and friends: deriving a key from the key is keyed."""
    parts = segments(found.text.rsplit(".", 1)[-1])
    return "secret" in parts and "key" in parts


def _suggestion(found: SecretLike) -> str:
    if found.word in _LOW_ENTROPY:
        return "`make_password()` to store and `check_password()` to verify"
    return "`salted_hmac()`"
