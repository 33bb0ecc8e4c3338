"""Serve an asset's bytes with HTTP range support, streamed in chunks (async under ASGI, so the server never
buffers a whole file), or redirect to a signed URL when the storage is remote.

Folder assets (HLS/DASH, kind `stream`) are served member by member at `content/<member>`; their playlists and
manifests use relative URIs, so a player that loads `content/<main file>` finds every member beside it. On
remote storage we serve the playlists ourselves (small text, so their relative URIs keep pointing at our URLs)
and redirect segments to signed storage URLs."""

import asyncio
import os
import posixpath
import re

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

from jobs.models import Asset
from jobs.services.assets import member_key
from mediahub.errors import NotFound

CHUNK = 256 * 1024
# Types a browser may show inline on our origin; anything else (HTML, SVG, …) is sent as a download.
INLINE_TYPES = ("video/", "audio/", "image/png", "image/jpeg", "image/gif", "image/webp", "text/vtt")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MEMBER_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
}
PLAYLISTS = (".m3u8", ".mpd")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The first (start, end inclusive) of a `Range: bytes=…` header; None when absent or unsatisfiable."""
    match = _RANGE.match(header.strip().split(",")[0]) if header else None
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end < size else None


def _sync_chunks(path: str, start: int, length: int):
    with open(path, "rb") as fh:
        fh.seek(start)
        while length > 0:
            data = fh.read(min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data


async def _async_chunks(path: str, start: int, length: int):
    fh = await asyncio.to_thread(open, path, "rb")
    try:
        await asyncio.to_thread(fh.seek, start)
        while length > 0:
            data = await asyncio.to_thread(fh.read, min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data
    finally:
        await asyncio.to_thread(fh.close)


def asset_response(request, asset: Asset) -> HttpResponse:
    if asset.kind == Asset.Kind.STREAM:
        return member_response(request, asset, main_name(asset))
    try:
        path = asset.file.path
    except NotImplementedError:
        return HttpResponseRedirect(asset.file.url)  # a signed, expiring URL from the storage backend
    inline = asset.content_type.startswith(INLINE_TYPES)
    return file_response(request, path, asset.content_type, asset.name, inline=inline)


def main_name(asset: Asset) -> str:
    """The main file of a folder asset (its master playlist or manifest), as named in its member URLs."""
    return posixpath.basename(asset.file.name)


def member_response(request, asset: Asset, member: str) -> HttpResponse:
    """One file of a folder asset: its main file or a path listed in `asset.files`; anything else is 404."""
    if asset.kind != Asset.Kind.STREAM or (member != main_name(asset) and member not in asset.files):
        raise NotFound("No such file in this asset.")
    key = asset.file.name if member == main_name(asset) else member_key(asset, member)
    extension = posixpath.splitext(member)[1].lower()
    content_type = MEMBER_TYPES.get(extension, "application/octet-stream")
    storage = asset.file.storage
    try:
        path = storage.path(key)
    except NotImplementedError:
        if extension not in PLAYLISTS:
            return HttpResponseRedirect(storage.url(key))
        with storage.open(key, "rb") as fh:
            response = HttpResponse(fh.read(), content_type=content_type)
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response
    return file_response(request, path, content_type, posixpath.basename(member), inline=True)


def file_response(request, path: str, content_type: str, name: str, *, inline: bool) -> HttpResponse:
    size = os.path.getsize(path)
    header = request.headers.get("Range", "")
    span = parse_range(header, size)
    if header and span is None and _RANGE.match(header.strip().split(",")[0]):
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = span or (0, size - 1)
    length = end - start + 1 if size else 0
    django_request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    chunks = _async_chunks if isinstance(django_request, ASGIRequest) else _sync_chunks
    response = StreamingHttpResponse(
        chunks(path, start, length), status=206 if span else 200, content_type=content_type
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(not inline, name)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
