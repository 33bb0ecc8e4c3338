"""Assets: files in storage with their ffprobe metadata."""

import hashlib
import mimetypes
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

from jobs.ffmpeg.probe import probe_file
from jobs.models import Asset, Job
from jobs.selectors import assets_for
from mediahub.errors import Conflict, InvalidInput
from mediahub.idempotency import fingerprint, replay
from mediahub.ssrf import fetch_to_file

_EXTENSION = re.compile(r"^[a-z0-9]{1,8}$")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _MovableFile(File):
    """A local file that FileSystemStorage moves into place instead of copying (remote storages read it)."""

    def temporary_file_path(self) -> str:
        return self.name


def display_name(name: str) -> str:
    """The user's file name reduced to something safe to show: no folders, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "file"


def storage_name(name: str) -> str:
    ext = Path(name).suffix.lower().lstrip(".")
    return f"file.{ext}" if _EXTENSION.match(ext) else "file.bin"


def asset_create(
    *,
    owner,
    path: Path,
    name: str,
    source: str = Asset.Source.UPLOAD,
    job: Job | None = None,
    sha256: str = "",
    idempotency_key: str = "",
    request_fingerprint: str = "",
) -> Asset:
    """Probe, hash and store a local file as an Asset; the storage key is built from ids, never the name.
    The file at `path` is handed over: local storage moves it into place."""
    if path.stat().st_size == 0:
        raise InvalidInput("The file is empty.", fields={"file": ["The file is empty."]})
    info = probe_file(path)
    shown = display_name(name)
    asset = Asset(
        owner=owner,
        name=shown,
        storage_name=storage_name(shown),
        kind=info.kind,
        size=path.stat().st_size,
        sha256=sha256 or _sha256(path),
        probe=info.probe,
        duration=info.duration,
        width=info.width,
        height=info.height,
        fps=info.fps,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        source=source,
        job=job,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
    )
    asset.content_type = mimetypes.guess_type(asset.storage_name)[0] or "application/octet-stream"
    with open(path, "rb") as fh:
        asset.file.save(asset.storage_name, _MovableFile(fh, name=str(path)), save=False)
    try:
        asset.save()
    except Exception:
        asset.file.delete(save=False)
        raise
    return asset


def _create_once(*, owner, idempotency_key: str, request: str, **fields) -> tuple[Asset, bool]:
    try:
        with transaction.atomic():
            asset = asset_create(owner=owner, idempotency_key=idempotency_key, request_fingerprint=request, **fields)
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one stored the asset.
        earlier = replay(assets_for(owner), idempotency_key, request)
        if earlier is None:
            raise
        return earlier, False
    return asset, True


def asset_upload(*, owner, path: Path, name: str, idempotency_key: str = "") -> tuple[Asset, bool]:
    """Store an uploaded file. Returns (asset, created); a repeated Idempotency-Key with the same file gives the
    first asset."""
    sha256 = _sha256(path)
    request = fingerprint(name=display_name(name), sha256=sha256)
    earlier = replay(assets_for(owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    return _create_once(
        owner=owner, idempotency_key=idempotency_key, request=request, path=path, name=name, sha256=sha256
    )


def asset_import_url(*, owner, url: str, idempotency_key: str = "") -> tuple[Asset, bool]:
    """Fetch a URL (SSRF-checked at every hop, size-limited) and store it. Returns (asset, created)."""
    request = fingerprint(url=url)
    earlier = replay(assets_for(owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    settings.MEDIAHUB_WORK_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.MEDIAHUB_WORK_DIR) as tmp:
        download = fetch_to_file(url, Path(tmp) / "download", max_bytes=settings.MEDIAHUB_MAX_UPLOAD_BYTES)
        return _create_once(
            owner=owner,
            idempotency_key=idempotency_key,
            request=request,
            path=download.path,
            name=download.name,
            source=Asset.Source.URL,
        )


def asset_delete(*, asset: Asset) -> None:
    """Delete the row and the stored file; an asset that queued or running jobs still read is kept (409)."""
    with transaction.atomic():
        Asset.objects.select_for_update().filter(id=asset.id).first()  # serialises with job_submit
        busy = Job.objects.filter(
            input_links__asset=asset, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
        ).values_list("id", flat=True)
        if busy:
            raise Conflict(f"The asset is an input of active jobs: {', '.join(busy)}.", code="asset_in_use")
        file = asset.file
        asset.delete()
    transaction.on_commit(lambda: file.delete(save=False))
