"""Assets: files in storage with their ffprobe metadata."""

import hashlib
import mimetypes
import posixpath
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.probe import MediaInfo, describe, probe_file, run_ffprobe
from jobs.models import Asset, Job
from jobs.models.assets import asset_upload_to
from jobs.quotas import check_storage
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


def _media_fields(info: MediaInfo) -> dict:
    """The Asset fields that come from ffprobe."""
    return {
        "kind": info.kind,
        "probe": info.probe,
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "video_codec": info.video_codec,
        "audio_codec": info.audio_codec,
    }


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
        **_media_fields(info),
        size=path.stat().st_size,
        sha256=sha256 or _sha256(path),
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


# Folder assets (HLS/DASH): the content type of the main file, by extension.
FOLDER_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml"}


def member_key(asset: Asset, member: str) -> str:
    """The storage key of a folder asset's member: beside the main file, under the asset's own prefix."""
    return posixpath.join(posixpath.dirname(asset.file.name), member)


def asset_create_folder(*, owner, folder, source: str = Asset.Source.JOB, job: Job | None = None) -> Asset:
    """Store a folder (jobs.operations.base.OutputFolder) as one `stream` asset: its main file is the asset's
    file at `assets/<owner>/<id>/<main>`, every other file a member under the same prefix, listed in `files`.
    Our own trusted outputs only: the probes are segments we wrote, never a user's playlist."""
    root = folder.path
    members = sorted(
        path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file() and path != root / folder.main
    )
    probes = [run_ffprobe(path) for path in folder.probes]
    merged = {
        "format": {**(probes[0].get("format", {}) if probes else {}), "duration": str(folder.duration or "")},
        "streams": [stream for probe in probes for stream in probe.get("streams", [])],
    }
    info = describe(merged)
    asset = Asset(
        owner=owner,
        name=display_name(folder.name),
        storage_name=folder.main,
        **{**_media_fields(info), "kind": Asset.Kind.STREAM, "duration": folder.duration or info.duration},
        content_type=FOLDER_TYPES.get(Path(folder.main).suffix, "application/octet-stream"),
        size=sum((root / member).stat().st_size for member in [folder.main, *members]),
        sha256=_sha256(root / folder.main),
        source=source,
        job=job,
        files=members,
    )
    storage = asset.file.storage
    prefix = posixpath.dirname(asset_upload_to(asset, folder.main))
    stored: list[str] = []
    try:
        for member in members:
            key = posixpath.join(prefix, member)
            with open(root / member, "rb") as fh:
                saved = storage.save(key, _MovableFile(fh, name=str(root / member)))
            stored.append(saved)
            if saved != key:
                raise MediaError("storage_conflict", f"Storage renamed a member of the new asset ({member}).")
        with open(root / folder.main, "rb") as fh:
            asset.file.save(asset.storage_name, _MovableFile(fh, name=str(root / folder.main)), save=False)
        asset.save()
    except BaseException:
        for key in stored:
            storage.delete(key)
        if asset.file:
            asset.file.delete(save=False)
        raise
    return asset


def asset_files_delete(asset: Asset) -> None:
    """Delete an asset's stored file and, for a folder asset, its members."""
    storage, keys = asset.file.storage, [member_key(asset, member) for member in asset.files]
    asset.file.delete(save=False)
    for key in keys:
        storage.delete(key)


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


def asset_upload(
    *, owner, path: Path, name: str, idempotency_key: str = "", sha256: str = ""
) -> tuple[Asset, bool]:
    """Store an uploaded file. Returns (asset, created); a repeated Idempotency-Key with the same file gives the
    first asset. `sha256` is the file's digest when the upload handler already took it."""
    sha256 = sha256 or _sha256(path)
    request = fingerprint(name=display_name(name), sha256=sha256)
    earlier = replay(assets_for(owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    check_storage(owner, path.stat().st_size)
    return _create_once(
        owner=owner, idempotency_key=idempotency_key, request=request, path=path, name=name, sha256=sha256
    )


def asset_import_url(*, owner, url: str, idempotency_key: str = "") -> tuple[Asset, bool]:
    """Fetch a URL (SSRF-checked at every hop, size-limited) and store it. Returns (asset, created)."""
    request = fingerprint(url=url)
    earlier = replay(assets_for(owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    check_storage(owner)
    settings.MEDIAHUB_WORK_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.MEDIAHUB_WORK_DIR) as tmp:
        download = fetch_to_file(url, Path(tmp) / "download", max_bytes=settings.MEDIAHUB_MAX_UPLOAD_BYTES)
        check_storage(owner, download.size)
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
        file, members = asset.file, [member_key(asset, member) for member in asset.files]
        asset.delete()
    transaction.on_commit(lambda: _delete_stored(file, members))


def _delete_stored(file, member_keys: list[str]) -> None:
    file.delete(save=False)
    for key in member_keys:
        file.storage.delete(key)
