"""Scopes: what an API key may do. Reads need `read`, writes `write`; a view may name its own scope
(`required_scope = "generate"`), and everything under /internal/ needs `internal`. Session users (the
dashboard and browsable API) act with their own rights, except on the internal API, which takes keys only."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from keys.models import ApiKey

INTERNAL_PREFIX = "/internal/"


def required_scope(request, view) -> str:
    if request.path.startswith(INTERNAL_PREFIX):
        return "internal"
    named = getattr(view, "required_scope", None)
    if isinstance(named, dict):  # per method: {"GET": "read", "POST": "admin"}
        named = named.get(request.method)
    return named or ("read" if request.method in SAFE_METHODS else "write")


class HasScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        scope = required_scope(request, view)
        if isinstance(request.auth, ApiKey):
            self.message = f"This API key lacks the '{scope}' scope."
            return request.auth.has_scope(scope)
        self.message = "The internal API takes API keys with the 'internal' scope only."
        return scope != "internal"
