"""Compositions: validate a spec against the owner's assets, then render it as a job."""

import re

from django.db import IntegrityError, transaction
from pydantic import ValidationError as PydanticError

from compositions.models import Composition
from compositions.render import clip_keys
from compositions.spec import AUDIO_KINDS, CompositionSpec, named_assets, place_clips
from jobs.models import Job
from jobs.operations.base import FieldError
from jobs.selectors import assets_for
from jobs.services.events import job_finished
from jobs.services.jobs import JobSpec, job_submit, jobs_create, params_errors
from mediahub.errors import Conflict, InvalidInput
from mediahub.idempotency import fingerprint, replay


def _spec_paths(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """Pydantic puts an overlay's type tag in its error paths (`overlays.0.text.end_time`): drop it."""
    paths: dict[str, list[str]] = {}
    for path, messages in fields.items():
        paths.setdefault(re.sub(r"^(overlays\.\d+)\.(text|image)\.", r"\1.", path), []).extend(messages)
    return paths


def composition_validate(*, owner, body: dict) -> tuple[CompositionSpec, list]:
    """The spec checked in full: shape, the owner's assets and their kinds, and the timeline against the
    durations of the sources we already have (URL sources are checked when the render fetches them)."""
    try:
        spec = CompositionSpec.model_validate(body)
    except PydanticError as exc:
        raise InvalidInput("Invalid composition.", fields=_spec_paths(params_errors(exc, prefix=""))) from None
    named = named_assets(spec)
    found = assets_for(owner).in_bulk([asset_id for _, asset_id, _ in named])
    errors: dict[str, list[str]] = {}
    for path, asset_id, kinds in named:
        asset = found.get(asset_id)
        if asset is None:
            errors[path] = [f"No asset {asset_id}."]
        elif asset.kind not in kinds:
            errors[path] = [f"{asset_id} is {asset.kind}; this needs {' or '.join(kinds)}."]
        elif kinds == AUDIO_KINDS and not asset.has_audio:
            errors[path] = [f"{asset_id} has no audio."]
    for index, clip in enumerate(spec.clips):
        asset = found.get(clip.asset)
        frame = clip.reframe
        if frame and asset is not None and asset.width and (frame.width > asset.width or frame.height > asset.height):
            errors[f"clips.{index}.reframe"] = [f"a {frame.width}×{frame.height} crop does not fit {asset.id}."]
    if errors:
        raise InvalidInput("The composition names unusable assets.", fields=errors)
    durations = {}
    for index, key in enumerate(clip_keys(spec)):
        asset = found.get(key)
        durations[index] = asset.duration if asset is not None and asset.kind != "image" else None
    if not any(clip.video_url for clip in spec.clips):
        try:
            place_clips(spec, durations)
        except FieldError as exc:
            raise InvalidInput("The timeline does not work.", fields={exc.field: [str(exc)]}) from None
    assets = list({asset_id: found[asset_id] for _, asset_id, _ in named}.values())
    return spec, assets


def _render_job(owner, spec: CompositionSpec, assets: list) -> Job:
    params = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    (job,) = jobs_create(owner=owner, specs=[JobSpec(operation="render", params=params, inputs=assets)])
    return job


def composition_create(*, owner, body: dict, idempotency_key: str = "") -> tuple[Composition, bool]:
    request = fingerprint(body=body)
    earlier = replay(Composition.objects.filter(owner=owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    spec, assets = composition_validate(owner=owner, body=body)
    try:
        with transaction.atomic():
            job = _render_job(owner, spec, assets)
            composition = Composition.objects.create(
                owner=owner,
                title=spec.title,
                spec=spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                job=job,
                idempotency_key=idempotency_key,
                request_fingerprint=request,
            )
    except IntegrityError:
        earlier = replay(Composition.objects.filter(owner=owner), idempotency_key, request)
        if earlier is None:
            raise
        return earlier, False
    return composition, True


def composition_preview(*, composition: Composition) -> Composition:
    """Render a fast 360p proxy of the same timeline as its own job."""
    spec, assets = composition_validate(owner=composition.owner, body=composition.spec)
    spec = spec.model_copy(update={"output": spec.output.model_copy(update={"preview": True, "poster": None})})
    with transaction.atomic():
        composition.preview_job = _render_job(composition.owner, spec, assets)
        composition.save(update_fields=["preview_job"])
    return composition


def composition_delete(*, composition: Composition) -> None:
    """Stop its renders, then delete it (its output assets stay until deleted themselves)."""
    for job in (composition.job, composition.preview_job):
        if job is not None and job.cancel():
            job_finished(job)
    composition.delete()


def composition_cancel(*, composition: Composition) -> Composition:
    job = composition.job
    if job is None or not job.cancel():
        raise Conflict("The render already finished.", code="job_finished")
    job_finished(job)
    return composition


def clips_submit(
    *, owner, asset_id: str, params: dict, priority: int = 0, webhook_url: str = "", idempotency_key: str = ""
) -> tuple[Job, bool]:
    """Queue a `highlights` job for the clips API; errors name the API's own fields (`count`, `captions.style`,
    `input`), not the job's (`params.count`, `inputs.0`)."""
    try:
        return job_submit(
            owner=owner,
            operation="highlights",
            inputs=[asset_id],
            params=params,
            priority=priority,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
        )
    except InvalidInput as exc:
        fields = {re.sub(r"^inputs\.0$", "input", path.removeprefix("params.")): messages
                  for path, messages in exc.fields.items()}  # fmt: skip
        raise InvalidInput(exc.message, fields=fields) from None
