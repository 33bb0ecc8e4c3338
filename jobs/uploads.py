"""Uploads: spooled to a temp file (never whole in memory) and stopped at the configured size limit."""

import hashlib
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, TemporaryFileUploadHandler

from mediahub.errors import TooLarge

# What a multipart body may carry beyond the file itself: boundaries, part headers, small form fields.
MULTIPART_ALLOWANCE = 64 * 1024


def upload_too_large() -> TooLarge:
    limit_mb = settings.MEDIAHUB_MAX_UPLOAD_BYTES // (1024 * 1024)
    return TooLarge(f"The upload is larger than the {limit_mb} MB limit.", code="upload_too_large")


def request_body_limit() -> int:
    """The most bytes an upload request's body may hold."""
    return settings.MEDIAHUB_MAX_UPLOAD_BYTES + MULTIPART_ALLOWANCE


class WorkDirUploadedFile(TemporaryUploadedFile):
    """An upload written under MEDIAHUB_WORK_DIR rather than the system temp dir: next to local storage, so
    storing it is a rename, not a second copy of the bytes."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        directory = settings.MEDIAHUB_WORK_DIR
        directory.mkdir(parents=True, exist_ok=True)
        # Owned by the upload object until it is stored or closed.
        file = tempfile.NamedTemporaryFile(suffix=".upload" + Path(name).suffix, dir=directory)  # noqa: SIM115
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes the file under the work dir in 1 MiB chunks, hashing them on the way (the stored file's sha256
    then costs no second read of a file that may be gigabytes), and stops at the size limit."""

    chunk_size = 1024 * 1024  # the multipart parser's reads and scans: fewer, larger ones go faster

    def new_file(self, *args, **kwargs):
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = WorkDirUploadedFile(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)
        self.digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > settings.MEDIAHUB_MAX_UPLOAD_BYTES:
            raise upload_too_large()
        self.digest.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        upload = super().file_complete(file_size)
        upload.sha256 = self.digest.hexdigest()
        return upload


def declared_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def check_declared_length(request) -> None:
    """Refuse before reading the body when the request says it is too large (multipart adds a little)."""
    if declared_length(request) > request_body_limit():
        raise upload_too_large()
