"""An ASGI layer in front of Django that refuses upload requests before reading their bodies.

Django's ASGI handler reads a whole request body (spooled to disk) before any middleware or view runs, so a
view can only refuse an unauthenticated or oversized upload after the last byte arrived. On the routes named
here this layer answers first: 401/403 for missing or bad credentials (checked for real: the API key, or the
session cookie of a signed-in user), 413 when Content-Length is over the limit, and 413 the moment a body
(chunked, or longer than it said) streams past the limit, reading no further. Refusals close the connection.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from urllib.parse import quote

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.http.cookie import parse_cookie

from keys.authentication import KeyNotAllowedHere, key_for, key_from_header
from mediahub.api.errors import error_body
from mediahub.errors import AppError


@dataclass(frozen=True)
class UploadRoute:
    """A path whose requests carry uploads. `page` routes are dashboard pages: session users only, and a
    visitor who is not signed in is sent to the login page as the page itself would."""

    path: str  # exact, or every path under it when it ends with "/"
    methods: frozenset[str] = field(default_factory=lambda: frozenset({"POST"}))
    scope: str = "write"  # the API key scope the route's view requires
    page: bool = False

    def matches(self, scope: dict) -> bool:
        path = scope["path"]
        under = self.path.endswith("/") and path.startswith(self.path)
        return scope["method"] in self.methods and (path == self.path or under)


@dataclass(frozen=True)
class Refusal:
    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()


def json_refusal(status: int, code: str, message: str, headers=()) -> Refusal:
    # Encoded as DRF's JSON renderer encodes the same bodies: compact, UTF-8.
    body = json.dumps(error_body(code, message), ensure_ascii=False, separators=(",", ":")).encode()
    return Refusal(status, body, ((b"content-type", b"application/json"), *headers))


# The answers DRF gives today for the same cases (keys.authentication, keys.permissions, mediahub.api.errors).
NOT_AUTHENTICATED = "Authentication credentials were not provided."
BAD_HEADER = "Use 'Authorization: Token <key>' or 'Bearer <key>'."
BAD_KEY = "Invalid, expired or revoked API key."
_CHALLENGE = ((b"www-authenticate", b"Token"),)


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _session_user(scope: dict):
    """The signed-in user of the request's session cookie (validated like Django's own check: the session
    exists, is unexpired, and still matches the user's password hash), or None."""
    session_key = parse_cookie(_header(scope, b"cookie")).get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(request)
    return user if user.is_authenticated else None


def api_refusal(scope: dict, route: UploadRoute) -> Refusal | None:
    """Why DRF would refuse this request's credentials, or None: an Authorization header is checked as an API
    key (and its scope); without one, the session's user is accepted (DRF then checks CSRF)."""
    header = _header(scope, b"authorization")
    if not header:
        if _session_user(scope) is None:
            return json_refusal(401, "not_authenticated", NOT_AUTHENTICATED, _CHALLENGE)
        return None
    raw = key_from_header(header)
    if raw is None:
        return json_refusal(401, "not_authenticated", BAD_HEADER, _CHALLENGE)
    client = scope.get("client") or (None,)
    try:
        key = key_for(raw, ip=client[0])
    except KeyNotAllowedHere as exc:
        return json_refusal(403, "permission_denied", str(exc.detail))
    if key is None:
        return json_refusal(401, "not_authenticated", BAD_KEY, _CHALLENGE)
    if not key.has_scope(route.scope):
        return json_refusal(403, "permission_denied", f"This API key lacks the '{route.scope}' scope.")
    return None


def page_refusal(scope: dict, route: UploadRoute) -> Refusal | None:
    if _session_user(scope) is not None:
        return None
    response = redirect_to_login(quote(scope["path"]))
    return Refusal(302, b"", ((b"location", response["Location"].encode()),))


@database_sync_to_async
def refusal_for(scope: dict, route: UploadRoute) -> Refusal | None:
    """Checked in a worker thread (database queries), with connections closed around it like a request's."""
    return page_refusal(scope, route) if route.page else api_refusal(scope, route)


def too_large_refusal(route: UploadRoute, error: AppError) -> Refusal:
    if route.page:
        return Refusal(error.status, error.message.encode(), ((b"content-type", b"text/plain; charset=utf-8"),))
    return json_refusal(error.status, error.code, error.message)


def declared_length(scope: dict) -> int | None:
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:
        return None


class UploadGuard:
    """ASGI middleware for the HTTP app. `limit()` is the most body bytes an upload request may carry and
    `too_large()` the error to answer beyond it; both are read per request, so settings changes apply."""

    def __init__(self, app, *, routes: list[UploadRoute], limit: Callable[[], int], too_large: Callable[[], AppError]):
        self.app = app
        self.routes = list(routes)
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope, receive, send):
        route = next((r for r in self.routes if r.matches(scope)), None) if scope["type"] == "http" else None
        if route is None:
            return await self.app(scope, receive, send)
        refusal = await refusal_for(scope, route)
        limit = self.limit()
        if refusal is None and (declared_length(scope) or 0) > limit:
            refusal = too_large_refusal(route, self.too_large())
        if refusal is not None:
            return await answer(send, refusal)

        received = 0
        cut_off = False
        started = False

        async def limited_receive():
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django's handler takes a disconnect as the end of the request and answers nothing.
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, watched_send)
        if cut_off and not started:
            await answer(send, too_large_refusal(route, self.too_large()))


async def answer(send, refusal: Refusal) -> None:
    headers = [
        *refusal.headers,
        (b"content-length", str(len(refusal.body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        # The unread body is not waited for: the connection ends with the answer.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": refusal.body})
