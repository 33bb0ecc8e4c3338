"""process-clips: prepare clips for compositions with the existing operations, as one batch.

Each clip (an asset, or a URL imported first through the SSRF-checked importer) becomes a `transcode` job for
`normalize` (resolution, fps, codec), an `audio` job for `normalize.target_lufs` (loudness is the audio
operation's, not transcode's) and a `thumbnail` job for `thumbnail`. They go in through batch_submit, so they are
validated all together, created in one transaction, and the batch's `webhook_url` (the caller's callback) gets the
signed, retried `batch.finished` event when the last one ends."""

import json
from dataclasses import dataclass, field

from jobs.models import Batch
from jobs.operations import get_operation
from jobs.selectors import assets_for
from jobs.services.assets import asset_delete, asset_import_url
from jobs.services.batches import batch_submit
from jobs.services.jobs import webhook_url_errors
from mediahub.errors import AppError, InvalidInput

OPERATIONS = ("normalize", "thumbnail")
CODECS = ("h264", "h265", "vp9", "av1")
NORMALIZE_DEFAULTS = {"resolution": "720p", "fps": 30.0, "codec": "h264", "target_lufs": None}
# The job name in a clip's `jobs` → the operation that does it.
JOB_OPERATIONS = {"normalize": "transcode", "loudness": "audio", "thumbnail": "thumbnail"}


@dataclass
class ClipRequest:
    index: int
    operations: list[str]
    asset: str = ""
    clip_url: str = ""
    timestamps: list | None = None
    asset_id: str = ""  # the asset the jobs read (the imported one for clip_url)
    has_audio: bool = True
    jobs: dict[str, str] = field(default_factory=dict)

    @property
    def source_field(self) -> str:
        return f"clips.{self.index}.{'clip_url' if self.clip_url else 'asset'}"

    def as_dict(self) -> dict:
        source = {"clip_url": self.clip_url} if self.clip_url else {}
        return {"index": self.index, **source, "asset": self.asset_id, "jobs": self.jobs}


def _job_bodies(clip: ClipRequest, normalize: dict) -> list[tuple[str, dict]]:
    """(job name, batch job body) for one clip."""
    bodies = []
    if "normalize" in clip.operations:
        params = {
            "format": "mp4",
            "video_codec": normalize["codec"],
            "resolution": normalize["resolution"],
            "fps": normalize["fps"],
        }
        bodies.append(("normalize", {"operation": "transcode", "input": clip.asset_id, "params": params}))
        if normalize.get("target_lufs") is not None and clip.has_audio:
            params = {"format": "aac", "target_lufs": normalize["target_lufs"]}
            bodies.append(("loudness", {"operation": "audio", "input": clip.asset_id, "params": params}))
    if "thumbnail" in clip.operations:
        params = {"times": clip.timestamps} if clip.timestamps else {}
        bodies.append(("thumbnail", {"operation": "thumbnail", "input": clip.asset_id, "params": params}))
    return bodies


def _clip_path(clip: ClipRequest, name: str, rest: str) -> str:
    """A batch error's path (`jobs.K.<rest>`) as the request's own (`clips.N.…`, `normalize.…`)."""
    if rest.startswith("inputs"):
        return clip.source_field
    if rest.startswith("params.times"):
        return f"clips.{clip.index}.timestamps" + rest.removeprefix("params.times")
    if name in ("normalize", "loudness") and rest.startswith("params."):
        param = rest.removeprefix("params.")
        return "normalize." + {"video_codec": "codec"}.get(param, param)
    return f"clips.{clip.index}.{rest}"


def _request_errors(exc: InvalidInput, origins: list[tuple[ClipRequest, str]]) -> InvalidInput:
    fields: dict[str, list[str]] = {}
    for path, messages in exc.fields.items():
        head, _, rest = path.partition(".")
        if head == "jobs" and rest.split(".", 1)[0].isdigit():
            number, _, rest = rest.partition(".")
            clip, name = origins[int(number)]
            path = _clip_path(clip, name, rest)
        else:
            path = {"webhook_url": "callback_url", "jobs": "clips"}.get(path, path)
        fields.setdefault(path, []).extend(messages)
    return InvalidInput("Some clips cannot be processed; nothing was started.", fields=fields)


def _canonical(operation: str, params: dict) -> str:
    """A job's params as job_validate stores them, to find which created job is which."""
    validated = get_operation(operation).params_model.model_validate(params)
    return json.dumps(validated.model_dump(exclude_none=True, mode="json"), sort_keys=True)


def _assign_jobs(batch: Batch, origins: list[tuple[ClipRequest, str]], bodies: list[dict]) -> None:
    available: dict[tuple, list[str]] = {}
    for job in batch.jobs.order_by("created_at", "id").prefetch_related("input_links"):
        inputs = tuple(link.asset_id for link in job.input_links.all() if link.role == "input")
        key = (job.operation, inputs, json.dumps(job.params, sort_keys=True))
        available.setdefault(key, []).append(job.id)
    for (clip, name), body in zip(origins, bodies, strict=True):
        key = (body["operation"], (body["input"],), _canonical(body["operation"], body["params"]))
        jobs = available.get(key)
        if jobs:
            clip.jobs[name] = jobs.pop(0)


def process_clips(
    *, owner, clips: list[dict], callback_url: str, normalize: dict | None = None, idempotency_key: str = ""
) -> tuple[Batch, list[dict], bool]:
    """Import the URL clips, then submit every clip's jobs as one batch that calls `callback_url` when it ends.

    Returns (batch, one entry per clip: {"index", "clip_url"?, "asset", "jobs": {name: job id}}, created).
    Nothing is started, and the imports of this request are deleted again, when any clip is invalid."""
    normalize = {**NORMALIZE_DEFAULTS, **(normalize or {})}
    errors = webhook_url_errors(callback_url, "callback_url")
    requests = [
        ClipRequest(
            index=index,
            operations=list(dict.fromkeys(clip["operations"])),
            asset=clip.get("asset", ""),
            clip_url=clip.get("clip_url", ""),
            timestamps=clip.get("timestamps"),
        )
        for index, clip in enumerate(clips)
    ]
    named = assets_for(owner).in_bulk([clip.asset for clip in requests if clip.asset])
    for clip in requests:
        if clip.asset and clip.asset not in named:
            errors[clip.source_field] = [f"No asset {clip.asset}."]
        elif clip.asset:
            clip.asset_id, clip.has_audio = clip.asset, named[clip.asset].has_audio
    if errors:
        raise InvalidInput("Some clips cannot be processed; nothing was started.", fields=errors)
    imported = []
    try:
        for clip in requests:
            if not clip.clip_url:
                continue
            key = f"process-clips:{idempotency_key}:{clip.index}"[:255] if idempotency_key else ""
            try:
                asset, created = asset_import_url(owner=owner, url=clip.clip_url, idempotency_key=key)
            except AppError as exc:
                raise AppError(
                    exc.message, code=exc.code, status=exc.status, fields={clip.source_field: [exc.message]}
                ) from None
            if created:
                imported.append(asset)
            clip.asset_id, clip.has_audio = asset.id, asset.has_audio
        origins, bodies = [], []
        for clip in requests:
            for name, body in _job_bodies(clip, normalize):
                origins.append((clip, name))
                bodies.append(body)
        try:
            batch, created = batch_submit(
                owner=owner, jobs=bodies, webhook_url=callback_url, idempotency_key=idempotency_key
            )
        except InvalidInput as exc:
            raise _request_errors(exc, origins) from None
    except AppError:
        for asset in imported:
            asset_delete(asset=asset)
        raise
    _assign_jobs(batch, origins, bodies)
    return batch, [clip.as_dict() for clip in requests], created
