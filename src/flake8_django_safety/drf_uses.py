"""Where a project uses its DRF permission classes and access policies, and what
the views that use them let through.

A *use* is a DRF view class of the project (its own or inherited
``permission_classes``, the settings' ``DEFAULT_PERMISSION_CLASSES`` when it
sets none, ``access_policy`` with ``AccessViewSetMixin``) or a function view
with ``@permission_classes(...)``. Uses are found once per process in the
modules that say ``permission_classes`` or ``access_policy`` (see
``ProjectIndex.modules_mentioning``); test modules do not count. A view whose
permissions or actions cannot be read (a computed list, ``get_permissions()``,
a base of another library, ``http_method_names`` that is not a literal) is no
use at all: the rules asking stay silent about it. Behaviour described here is
DRF 3.15's (``APIView.check_permissions``, ``GenericAPIView.get_object``, the
``OperandHolder`` classes behind ``&``, ``|`` and ``~``).

The same reading of a view's actions tells DJS906 which views write with
nothing guarding them (``view_without_permissions``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flake8_django_safety.drf import PLAIN_BASES, defines, drf_view_base, project_ancestry
from flake8_django_safety.project.facts import meta_name

if TYPE_CHECKING:
    from flake8_django_safety.project import ClassRef, ModuleFacts, ProjectIndex
    from flake8_django_safety.settings import Settings

#: What ``has_permission()`` of these lets through: everything.
ALLOW_ANY = frozenset({"rest_framework.permissions.AllowAny", "rest_framework.permissions.BasePermission"})
ACCESS_MIXIN = frozenset(
    {"rest_access_policy.AccessViewSetMixin", "rest_access_policy.access_view_set_mixin.AccessViewSetMixin"}
)
#: Actions (viewsets) and handlers (generic views) DRF's classes provide: name -> whether it
#: reaches ``check_object_permissions()`` (through ``get_object()``).
_LIBRARY_ACTIONS: dict[str, dict[str, bool]] = {
    "rest_framework.mixins.ListModelMixin": {"list": False},
    "rest_framework.mixins.CreateModelMixin": {"create": False},
    "rest_framework.mixins.RetrieveModelMixin": {"retrieve": True},
    "rest_framework.mixins.UpdateModelMixin": {"update": True, "partial_update": True},
    "rest_framework.mixins.DestroyModelMixin": {"destroy": True},
    "rest_framework.viewsets.ReadOnlyModelViewSet": {"list": False, "retrieve": True},
    "rest_framework.viewsets.ModelViewSet": {
        "list": False, "create": False, "retrieve": True, "update": True, "partial_update": True, "destroy": True,
    },
    "rest_framework.generics.ListAPIView": {"get": False},
    "rest_framework.generics.CreateAPIView": {"post": False},
    "rest_framework.generics.ListCreateAPIView": {"get": False, "post": False},
    "rest_framework.generics.RetrieveAPIView": {"get": True},
    "rest_framework.generics.UpdateAPIView": {"put": True, "patch": True},
    "rest_framework.generics.DestroyAPIView": {"delete": True},
    "rest_framework.generics.RetrieveUpdateAPIView": {"get": True, "put": True, "patch": True},
    "rest_framework.generics.RetrieveDestroyAPIView": {"get": True, "delete": True},
    "rest_framework.generics.RetrieveUpdateDestroyAPIView": {"get": True, "put": True, "patch": True, "delete": True},
}  # fmt: skip
#: The HTTP method of each action and handler a router or ``as_view()`` routes.
_METHOD = {
    "list": "get", "retrieve": "get", "create": "post", "update": "put", "partial_update": "patch",
    "destroy": "delete", "get": "get", "post": "post", "put": "put", "patch": "patch", "delete": "delete",
}  # fmt: skip
_VIEWSET_ACTIONS = frozenset({"list", "create", "retrieve", "update", "partial_update", "destroy"})
_HANDLERS = frozenset({"get", "post", "put", "patch", "delete"})
#: Calls on ``self`` that run the object permissions.
_OBJECT_CHECKS = frozenset({"get_object", "check_object_permissions", "retrieve", "update", "partial_update", "destroy"})
#: Methods that decide the permissions some other way.
_PERMISSION_METHODS = frozenset({"get_permissions", "check_permissions", "initial"})
_SAFE = frozenset({"get", "head", "options"})
#: What a module using permission classes says.
WORDS = ("permission_classes", "access_policy")


@dataclass(frozen=True)
class Use:
    """A view and the permission classes that guard it."""

    #: ``DocumentViewSet`` or ``export()`` for messages.
    label: str
    qualname: str
    #: The permission list, resolved: a project class's qualified name or another
    #: library's canonical name, ``("&" | "|", left, right)``, ``("~", term)``, None unknown.
    terms: tuple[object, ...]
    #: A safe / an unsafe request is served without ``has_object_permission()``.
    unchecked_reads: bool
    unchecked_writes: bool
    #: It serves some unsafe request (create, update, destroy...).
    writes: bool


def uses(project: ProjectIndex, settings: Settings) -> list[Use]:
    """Every readable use of permission classes in the project, by qualified name."""
    key = ("drf_uses", settings.test_patterns)
    return project.memoised(key, lambda: _find_uses(project, settings))  # type: ignore[return-value]


def uses_of(project: ProjectIndex, settings: Settings, qualname: str) -> list[Use]:
    """The uses whose permission list names ``qualname`` (a project class)."""
    return [use for use in uses(project, settings) if any(mentions(term, qualname) for term in use.terms)]


def lets_through(terms: tuple[object, ...], allows: Callable[[str], bool]) -> bool:
    """Every permission of the list lets every request through ``has_permission()``,
    given which classes do (``allows``): DRF grants when all of them do."""
    return all(_term_allows(term, allows) for term in terms)


def _term_allows(term: object, allows: Callable[[str], bool]) -> bool:
    if isinstance(term, str):
        return allows(term)
    if isinstance(term, tuple) and term[0] == "&":
        return _term_allows(term[1], allows) and _term_allows(term[2], allows)
    if isinstance(term, tuple) and term[0] == "|":
        return _term_allows(term[1], allows) or _term_allows(term[2], allows)
    return False  # ``~X``, or something we cannot read: it may refuse


def mentions(term: object, qualname: str) -> bool:
    if isinstance(term, tuple):
        return any(mentions(part, qualname) for part in term[1:])
    return term == qualname


# -- finding the uses ----------------------------------------------------------------


def _find_uses(project: ProjectIndex, settings: Settings) -> list[Use]:
    found: list[Use] = []
    words = WORDS
    default = _default_terms(project)
    if default and any(isinstance(term, str) and project.resolve_class(term) for term in default):
        words += ("rest_framework",)  # views that set no permission_classes get a project class
    for name, path in project.modules_mentioning(words):
        if _is_test(project, path, settings):
            continue
        module = project.module(name)
        if module is None:
            continue
        for facts in module.classes.values():
            use = _view_use(project, project.resolve_class(facts.qualname))
            if use is not None:
                found.append(use)
        for view in module.function_views.values():
            if view.methods is not None and view.permission_classes is not None:
                methods = {method.lower() for method in view.methods}
                unsafe = bool(methods - _SAFE)
                found.append(
                    Use(
                        f"{view.name}()",
                        f"{name}.{view.name}",
                        _resolve(project, module, view.permission_classes),
                        unchecked_reads=bool(methods & _SAFE),  # a function view never checks objects
                        unchecked_writes=unsafe,
                        writes=unsafe,
                    )
                )
    return sorted(found, key=lambda use: use.qualname)


def _is_test(project: ProjectIndex, path: Path, settings: Settings) -> bool:
    try:
        relative = path.resolve().relative_to(project.root)
    except (ValueError, OSError):
        relative = path
    return settings.is_test_file(relative.as_posix())


def _view_use(project: ProjectIndex, ref: ClassRef | None) -> Use | None:
    """The use a view class makes of permissions; None when it is no DRF view or
    when its permissions or actions cannot be read."""
    found = None if ref is None else project_ancestry(project, ref.qualname)
    if found is None:
        return None
    ref, classes, names = found
    if not any(drf_view_base(name) for name in names):
        return None
    if any(not drf_view_base(name) and name not in PLAIN_BASES | ACCESS_MIXIN for name in names):
        return None  # another library's base may decide the permissions or the actions
    if any(item.facts.methods & _PERMISSION_METHODS for item in classes):
        return None
    terms = _view_terms(project, classes)
    if terms is None:
        return None
    if set(names) & ACCESS_MIXIN:
        policy = _nearest(classes, "access_policy")
        policy_name = None if policy is None else meta_name(policy[1].facts.attributes["access_policy"])
        if policy is None or policy_name is None:
            return None  # ``access_policy = Policy()`` or computed
        terms = (_resolve_name(project, policy[1].module.qualify(policy_name)), *terms)
    actions = view_actions(project, ref, classes, names)
    if actions is None:
        return None
    return Use(
        ref.facts.name,
        ref.qualname,
        terms,
        unchecked_reads=any(not checked and _METHOD[action] in _SAFE for action, checked in actions.items()),
        unchecked_writes=any(not checked and _METHOD[action] not in _SAFE for action, checked in actions.items()),
        writes=any(_METHOD[action] not in _SAFE for action in actions),
    )


def _nearest(classes: list[ClassRef], attribute: str) -> tuple[int, ClassRef] | None:
    """The first class (in the order ``ancestry`` walks them) that sets ``attribute``."""
    for position, item in enumerate(classes):
        if attribute in item.facts.attributes:
            return position, item
    return None


def _view_terms(project: ProjectIndex, classes: list[ClassRef]) -> tuple[object, ...] | None:
    """The view's permission list: its own or a project base's, else the settings' default."""
    found = _nearest(classes, "permission_classes")
    if found is not None:
        item = found[1]
        terms = item.facts.permission_classes
        return None if terms is None else _resolve(project, item.module, terms)
    return _default_terms(project)


def _default_terms(project: ProjectIndex) -> tuple[object, ...] | None:
    """``DEFAULT_PERMISSION_CLASSES`` resolved; None when there are no settings, the
    value is computed, or settings modules disagree."""
    values = project.setting("DEFAULT_PERMISSION_CLASSES")
    if not values or any(not isinstance(value, tuple) or value != values[0] for value in values):
        return None
    return tuple(_resolve_name(project, str(name)) for name in values[0])  # type: ignore[union-attr]


def _resolve(project: ProjectIndex, module: ModuleFacts, terms: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(_resolve_term(project, module, term) for term in terms)


def _resolve_term(project: ProjectIndex, module: ModuleFacts, term: object) -> object:
    if isinstance(term, str):
        return _resolve_name(project, module.qualify(term))
    if isinstance(term, tuple):
        return (term[0], *(_resolve_term(project, module, part) for part in term[1:]))
    return None


def _resolve_name(project: ProjectIndex, qualified: str) -> str:
    ref = project.resolve_class(qualified)
    return ref.qualname if ref is not None else project.canonical(qualified)


def view_actions(
    project: ProjectIndex, ref: ClassRef, classes: list[ClassRef], names: list[str]
) -> dict[str, bool] | None:
    """The actions (viewsets) or handlers (views) the view routes -> whether each
    reaches the object permissions; None when ``http_method_names`` cannot be read."""
    viewset = any(name.startswith("rest_framework.viewsets.") for name in names)
    library: dict[str, bool] = {}
    for name in names:
        if viewset or not name.startswith("rest_framework.mixins."):  # a view's mixins run only when called
            library.update(_LIBRARY_ACTIONS.get(name, {}))
    routed = _VIEWSET_ACTIONS if viewset else _HANDLERS
    actions = dict(library)
    for item in classes:
        for method in item.facts.methods & routed:
            if method not in actions:
                actions[method] = _reaches_object_check(project, ref, method)
    found = _nearest(classes, "http_method_names")
    if found is not None:
        allowed = found[1].facts.attributes["http_method_names"]
        if not isinstance(allowed, tuple):
            return None
        methods = {str(method).lower() for method in allowed}
        actions = {action: checked for action, checked in actions.items() if _METHOD[action] in methods}
    return actions


def _reaches_object_check(project: ProjectIndex, ref: ClassRef, method: str) -> bool:
    """The project method calls ``self.get_object()`` (or another object check),
    itself or through other project methods it calls on ``self``."""
    seen = {method}
    stack = [method]
    while stack:
        facts = project.method(ref, stack.pop())
        if facts is None:
            continue
        if facts.self_calls & _OBJECT_CHECKS:
            return True
        for name in facts.self_calls - seen:
            seen.add(name)
            stack.append(name)
    return False


# -- views that write with nothing guarding them (DJS906) ---------------------------


#: Filter backends that narrow a queryset by the request's parameters, never by who asks.
PLAIN_FILTERS = frozenset(
    {"rest_framework.filters.SearchFilter", "rest_framework.filters.OrderingFilter",
     "django_filters.rest_framework.DjangoFilterBackend",
     "django_filters.rest_framework.backends.DjangoFilterBackend"}
)  # fmt: skip
#: Attributes and methods that decide the permissions another way.
_PERMISSION_NAMES = ("permission_classes", "access_policy", "get_permissions", "check_permissions")


def view_without_permissions(project: ProjectIndex, qualname: str) -> bool:
    """An ``APIView`` / ``ViewSet`` subclass that serves an unsafe request (create,
    update, destroy, a ``post()`` / ``put()`` / ``patch()`` / ``delete()`` handler) and
    that nothing guards: its project classes set no ``permission_classes`` (nor
    ``access_policy``, nor ``get_permissions()`` / ``check_permissions()``), no
    ``filter_backends`` that may filter by user (nor do the settings), no method of
    theirs looks at ``request.user`` / ``request.auth`` or refuses (see
    ``MethodFacts.checks_access``), and they do not empty ``authentication_classes``
    (a view meant for anonymous clients: sign-up, webhooks)."""
    found = project_ancestry(project, qualname)
    if found is None:
        return False
    ref, classes, names = found
    if not any(drf_view_base(name) for name in names):
        return False
    if any(not drf_view_base(name) and name not in PLAIN_BASES for name in names):
        return False  # a library base may set permission_classes
    if any(defines(classes, name) for name in _PERMISSION_NAMES):
        return False
    if _filters_by_user(project, classes) or _checks_access(project, classes):
        return False
    if any(item.facts.guarded_by_decorator for item in classes):
        return False
    if _no_authentication(classes):
        return False
    actions = view_actions(project, ref, classes, names)
    return actions is not None and any(
        _writes(project, ref, action) for action in actions if _METHOD[action] not in _SAFE
    )


#: Calls that write rows (``obj.save()``, ``Model.objects.create()``, ``serializer.save()``)
#: and DRF's own writing methods a handler may call on ``self``.
_WRITE_CALLS = frozenset(
    {"save", "delete", "create", "update", "bulk_create", "bulk_update", "get_or_create",
     "update_or_create", "perform_create", "perform_update", "perform_destroy", "partial_update",
     "destroy", "set_password"}
)  # fmt: skip


def _writes(project: ProjectIndex, ref: ClassRef, action: str) -> bool:
    """An unsafe action writes rows: DRF's own (``create``, ``update``, ``destroy``),
    or a project method that calls a writing method, itself or through the methods
    it calls on ``self``. A handler that only checks a password or sends a mail
    (sign-in, password reset request) writes nothing."""
    if project.method(ref, action) is None:
        return True  # DRF's create / update / destroy, or a generic view's handler
    seen = {action}
    stack = [action]
    while stack:
        facts = project.method(ref, stack.pop())
        if facts is None:
            continue
        if facts.called_names & _WRITE_CALLS:
            return True
        for name in facts.self_calls - seen:
            seen.add(name)
            stack.append(name)
    return False


def _no_authentication(classes: list[ClassRef]) -> bool:
    """The nearest ``authentication_classes`` is an empty list: only anonymous clients."""
    for item in classes:
        if "authentication_classes" in item.facts.attributes:
            value = item.facts.attributes["authentication_classes"]
            return value == ()
    return False


def _filters_by_user(project: ProjectIndex, classes: list[ClassRef]) -> bool:
    """The nearest ``filter_backends`` (else the settings' ``DEFAULT_FILTER_BACKENDS``)
    names a backend that may filter by user: anything but DRF's search and ordering
    filters and django-filter's backend; True when it cannot be read."""
    for item in classes:
        if "filter_backends" in item.facts.attributes:
            terms = item.facts.filter_backends
            if terms is None:
                return True
            return any(
                not isinstance(term, str) or project.canonical(item.module.qualify(term)) not in PLAIN_FILTERS
                for term in terms
            )
    values = project.setting("DEFAULT_FILTER_BACKENDS")
    return not values or any(
        not isinstance(value, tuple) or any(project.canonical(str(name)) not in PLAIN_FILTERS for name in value)
        for value in values
    )


def _checks_access(project: ProjectIndex, classes: list[ClassRef]) -> bool:
    """A method of the view's project classes looks at who is asking or refuses."""
    return any(facts.checks_access for item in classes for facts in item.facts.method_facts.values())
