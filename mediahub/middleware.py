"""Request hygiene: an id, an access log line and a latency figure for every request; security headers on every
response that does not set its own (asset downloads carry a sandbox policy), and no NUL characters in URLs
(PostgreSQL text cannot hold them)."""

import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse

from mediahub.api.errors import error_body
from mediahub.logs import log_context
from mediahub.request_metrics import observe_request, request_route

access_log = logging.getLogger("mediahub.access")

# An incoming X-Request-ID is kept when it looks like an id (a proxy's or a client's), else a new one is made.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")

# Only our own scripts run: no inline or third-party script, anywhere. Styles may be inline (ReDoc and
# Swagger UI set them at run time); media and images may be blobs (players).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class RequestLogMiddleware:
    """Gives each request an id (returned in X-Request-ID, carried by its log lines), logs one access line with
    the user (which the server's own access log cannot know) and times the request per route for /metrics."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = request.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        with log_context(request_id=request_id, request=request):
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            route = request_route(request)
            access_log.info(
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
        observe_request(route=route, method=request.method, status=response.status_code, seconds=seconds)
        response.headers["X-Request-ID"] = request_id
        return response


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.MEDIAHUB_CSP or CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


class RejectNulMiddleware:
    """A NUL in the path or query string is a 400 here, before it can reach a query as a database error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            message = "NUL characters are not allowed in URLs."
            if request.path.startswith(("/api/", "/internal/")):
                return JsonResponse(error_body("bad_request", message), status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)
