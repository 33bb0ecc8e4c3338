"""WebSocket auth: an API key from `?token=` or the Authorization header, else the session's user. A key
outside its allowed networks connects as nobody."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from keys.authentication import KeyNotAllowedHere, key_for, key_from_header


class ApiKeyAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        raw = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
        if raw is None:
            header = dict(scope.get("headers", [])).get(b"authorization", b"").decode()
            raw = key_from_header(header) if header else None
        if raw is not None:
            client = scope.get("client") or [None]
            try:
                key = await database_sync_to_async(key_for)(raw, ip=client[0])
            except KeyNotAllowedHere:
                key = None
            user = key.owner if key else AnonymousUser()
            scope = dict(scope, user=user, api_key=key, auth_method="key")
        return await self.inner(scope, receive, send)


def ApiKeyAuthMiddlewareStack(inner):  # noqa: N802 (named like Channels' AuthMiddlewareStack)
    # The session middleware runs first and sets scope["user"]; a key, when given, then replaces it.
    return AuthMiddlewareStack(ApiKeyAuthMiddleware(inner))


class BrowserOriginValidator(OriginValidator):
    """Browsers always send Origin, which must be one of ALLOWED_HOSTS (no cross-site socket hijacking with
    the session cookie); programs send none and authenticate with a key."""

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or self.validate_origin(parsed_origin)
