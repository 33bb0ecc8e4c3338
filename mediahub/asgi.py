"""HTTP and WebSocket routing. Django is set up before anything imports models (Channels' documented order)."""

import ipaddress
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402
from jobs.uploads import request_body_limit, upload_too_large  # noqa: E402
from keys.websocket import ApiKeyAuthMiddlewareStack, BrowserOriginValidator  # noqa: E402
from mediahub.upload_guard import UploadGuard, UploadRoute  # noqa: E402

# Requests that carry uploads: refused before their bodies are read (a resumable upload endpoint joins here).
UPLOAD_ROUTES = [
    UploadRoute("/api/v1/assets"),
    UploadRoute("/jobs/new", page=True),
]


def build_application():
    """The ASGI application; behind MEDIAHUB_TRUSTED_PROXIES the client address and scheme of HTTP and
    WebSocket requests come from X-Forwarded-For / X-Forwarded-Proto (from those peers only)."""
    router = ProtocolTypeRouter(
        {
            "http": UploadGuard(
                django_asgi_app, routes=UPLOAD_ROUTES, limit=request_body_limit, too_large=upload_too_large
            ),
            "websocket": BrowserOriginValidator(ApiKeyAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
    trusted = [str(ipaddress.ip_network(cidr, strict=False)) for cidr in settings.MEDIAHUB_TRUSTED_PROXIES]
    return ProxyHeadersMiddleware(router, trusted_hosts=trusted) if trusted else router


application = build_application()
