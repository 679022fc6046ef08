"""drf-access-policy policies of the shop's API."""

from rest_access_policy import AccessPolicy


class ReviewAccessPolicy(AccessPolicy):
    statements = [
        {"action": ["list", "retrieve"], "principal": "*", "effect": "allow"},
        # DJS902: "conditions" is not a statement key; the statement lets any
        # signed-in user edit any review.
        {"action": ["update", "partial_update"], "principal": ["authenticated"], "effect": "allow", "conditions": "is_author"},
        # DJS903: the request method is compared in lower case.
        {"action": ["<method:POST>"], "principal": ["authenticated"], "effect": "allow"},
        # DJS904: no method `is_reviewer` (the method is `is_author`).
        {"action": ["destroy"], "principal": ["authenticated"], "effect": "allow", "condition": "is_reviewer"},
    ]

    def is_author(self, request, view, action) -> bool:
        return view.get_object().author_id == request.user.pk


class ProductAccessPolicy(AccessPolicy):
    # DJS905: anyone, signed in or not, may create, change and delete products.
    statements = [
        {"action": ["*"], "principal": ["*"], "effect": "allow"},
    ]
