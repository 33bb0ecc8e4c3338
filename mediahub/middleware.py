"""Request hygiene: security headers on every response that does not set its own (asset downloads carry a
sandbox policy), and no NUL characters in URLs (PostgreSQL text cannot hold them)."""

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse

from mediahub.api.errors import error_body

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
