"""Uploads: spooled to a temp file (never whole in memory) and stopped at the configured size limit."""

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from mediahub.errors import TooLarge


def upload_too_large() -> TooLarge:
    limit_mb = settings.MEDIAHUB_MAX_UPLOAD_BYTES // (1024 * 1024)
    return TooLarge(f"The upload is larger than the {limit_mb} MB limit.", code="upload_too_large")


class LimitedUploadHandler(TemporaryFileUploadHandler):
    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > settings.MEDIAHUB_MAX_UPLOAD_BYTES:
            raise upload_too_large()
        return super().receive_data_chunk(raw_data, start)


def declared_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def check_declared_length(request) -> None:
    """Refuse before reading the body when the request says it is too large (multipart adds a little)."""
    if declared_length(request) > settings.MEDIAHUB_MAX_UPLOAD_BYTES + 64 * 1024:
        raise upload_too_large()
