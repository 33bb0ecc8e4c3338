"""404/500 pages: JSON in the contract's shape under /api/, HTML elsewhere."""

from django.views import defaults

from mediahub.api.errors import json_404, json_500


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_500(request)
    return defaults.server_error(request)
