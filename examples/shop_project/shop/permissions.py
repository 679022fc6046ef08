"""Permission classes of the shop's API."""

from rest_framework.permissions import BasePermission


class IsOrderCustomer(BasePermission):
    """Customers see and change only their own orders."""

    # DJS901: has_permission() is BasePermission's (True): listing and creating
    # orders never reach this check.
    def has_object_permission(self, request, view, obj):
        return obj.customer_id == request.user.pk
