"""HTTP and WebSocket routing. Django is set up before anything imports models (Channels' documented order)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402
from keys.websocket import ApiKeyAuthMiddlewareStack, BrowserOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(ApiKeyAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
