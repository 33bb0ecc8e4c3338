"""The router: one generation through its providers in turn (the chosen one, then `fallback`), each through the
owner's credentials in turn, with retries, polling, download and a poster. Everything a restarted worker needs to
resume (provider, task id, credential) is saved in the Generation row as soon as it is known, so a job that is
run again polls the task it already started instead of paying for a second one."""

import base64
import contextlib
import mimetypes
import random
import re
from collections.abc import Callable
from datetime import timedelta

import ffmpeg
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from jobs.ffmpeg.errors import Cancelled, MediaError
from jobs.ffmpeg.probe import probe_file
from jobs.models import Job
from jobs.operations.base import Outcome, OutputFile
from keys.models import ProviderCredential
from providers import catalog
from providers.adapters import get_adapter
from providers.adapters.base import (
    CONTENT_POLICY,
    INVALID_CREDENTIALS,
    INVALID_REQUEST,
    PROVIDER_ERROR,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    TIMEOUT,
    Adapter,
    Poll,
    ProviderError,
    Request,
)
from providers.models import Generation

RETRYABLE = {RATE_LIMITED, PROVIDER_ERROR}
FINAL = {CONTENT_POLICY, INVALID_REQUEST}  # the request itself is refused: another provider would not help
CREDENTIAL_STATUS = {
    INVALID_CREDENTIALS: ProviderCredential.Status.INVALID,
    QUOTA_EXCEEDED: ProviderCredential.Status.QUOTA_EXCEEDED,
}
NO_CREDENTIALS = "no_credentials"
UNSUPPORTED = "unsupported"
MAX_RETRY_WAIT = 300  # a provider asking for a longer pause is left for the next one
MAX_IMAGE_BYTES = 10 * 2**20
EXTENSIONS = {"video/webm": "webm", "video/quicktime": "mov"}


def generation_run(ctx, params) -> Outcome:
    generation = Generation.objects.select_related("credential").get(job=ctx.job)
    plan = [(params.provider, params.model)] + [(name, get_adapter(name).default_model) for name in params.fallback]
    names = [name for name, _ in plan]
    start = names.index(generation.provider) if generation.provider in names else 0
    image = ctx.local_path(ctx.param_asset("image")) if params.image else None
    error = ProviderError(PROVIDER_ERROR, "No provider was tried.")
    for provider, model in plan[start:]:
        if (generation.provider, generation.model) != (provider, model):
            _switch(generation, provider, model)
        try:
            request = _request(params, provider, model, image)
            return _through_credentials(ctx, generation, request)
        except ProviderError as exc:
            error = exc
            _record(generation, outcome="skipped" if exc.code == UNSUPPORTED else "failed", error=exc)
            if exc.code in FINAL:
                break
    raise MediaError(error.code, f"{generation.provider}: {error.message}")


def _switch(generation: Generation, provider: str, model: str) -> None:
    generation.provider, generation.model = provider, model
    generation.provider_task_id, generation.credential, generation.submitted_at = "", None, None
    generation.save(update_fields=["provider", "model", "provider_task_id", "credential", "submitted_at"])


def _record(generation: Generation, *, outcome: str, error: ProviderError | None = None) -> None:
    entry = {
        "provider": generation.provider,
        "model": generation.model,
        "credential": generation.credential.masked if generation.credential else None,
        "outcome": outcome,
        "at": timezone.now().isoformat(),
    }
    if error is not None:
        entry |= {"code": error.code, "message": error.message}
    generation.tried = [*generation.tried, entry]
    generation.save(update_fields=["tried"])


def _request(params, provider: str, model: str, image) -> Request:
    """The request in this model's terms: the chosen model gets it as validated; a fallback the nearest it makes."""
    info = catalog.model_info(provider, model)
    if image is not None and info.image == "none":
        raise ProviderError(UNSUPPORTED, f"{model} cannot start from an image.")
    if image is None and not info.text:
        raise ProviderError(UNSUPPORTED, f"{model} needs a start image.")
    fitted = catalog.fit(info, duration=params.duration, aspect_ratio=params.aspect_ratio, resolution=params.resolution)
    request = Request(model=model, prompt=params.prompt, negative_prompt=params.negative_prompt, seed=params.seed,
                      **fitted)  # fmt: skip
    if image is not None:
        data = image.read_bytes()
        if len(data) > MAX_IMAGE_BYTES:
            raise ProviderError(INVALID_REQUEST, "The start image is larger than 10 MB.")
        mime = mimetypes.guess_type(image.name)[0] or "image/png"
        request.image_path = image
        request.image_data_uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return request


def _next_credential(generation: Generation) -> ProviderCredential | None:
    """The owner's working credential for this provider used longest ago: several keys take turns."""
    usable = ProviderCredential.objects.filter(
        owner_id=generation.owner_id, provider=generation.provider, status=ProviderCredential.Status.ACTIVE
    )
    return usable.order_by(F("last_used_at").asc(nulls_first=True), "created_at").first()


def _through_credentials(ctx, generation: Generation, request: Request) -> Outcome:
    adapter = get_adapter(generation.provider)
    if not adapter.needs_credential:
        return _attempt(ctx, generation, adapter, request, {})
    while True:
        if not (generation.provider_task_id and generation.credential):
            generation.credential = _next_credential(generation)
        credential = generation.credential
        if credential is None:
            raise ProviderError(NO_CREDENTIALS, f"No working {generation.provider} key: add or re-validate one.")
        try:
            return _attempt(ctx, generation, adapter, request, credential.parts())
        except ProviderError as exc:
            if exc.code not in CREDENTIAL_STATUS:
                raise
            credential.status, credential.status_message = CREDENTIAL_STATUS[exc.code], exc.message[:300]
            credential.save(update_fields=["status", "status_message"])
            _record(generation, outcome="next_credential", error=exc)
            generation.provider_task_id, generation.credential = "", None
            generation.save(update_fields=["provider_task_id", "credential"])


def _attempt(ctx, generation: Generation, adapter: Adapter, request: Request, parts: dict) -> Outcome:
    """Submit (unless a task is already running), poll until it ends, then download."""
    wait = None
    if not generation.provider_task_id:
        ctx.set_stage("submitting", progress=1)
        submitted = _retrying(ctx, lambda: adapter.create(request, parts))
        now = timezone.now()
        generation.provider_task_id, generation.submitted_at = submitted.task_id, now
        generation.save(update_fields=["provider_task_id", "credential", "submitted_at"])
        if generation.credential:
            ProviderCredential.objects.filter(id=generation.credential_id).update(last_used_at=now)
        wait = submitted.poll_after
    deadline = generation.submitted_at + timedelta(seconds=settings.MEDIAHUB_GENERATION_TIMEOUT)
    task, model = generation.provider_task_id, generation.model
    try:
        poll = _poll_until_done(ctx, adapter, task, model, parts, wait, deadline)
        return _download(ctx, generation, adapter, poll, parts, request)
    except Cancelled:
        # Cancelled by its owner: stop paying for the task. Taken over after a lost lease: the new run resumes it.
        if Job.objects.filter(id=ctx.job.id, status=Job.Status.CANCELLED).exists():
            _cancel_quietly(adapter, task, model, parts)
        raise
    except ProviderError as exc:
        if exc.code == TIMEOUT:
            _cancel_quietly(adapter, task, model, parts)
        raise


def _poll_until_done(ctx, adapter: Adapter, task: str, model: str, parts: dict, wait, deadline) -> Poll:
    delay = min(2.0, settings.MEDIAHUB_GENERATION_MAX_POLL_SECONDS)
    while True:
        if wait:
            ctx.sleep(wait)
        if timezone.now() > deadline:
            limit = settings.MEDIAHUB_GENERATION_TIMEOUT
            raise ProviderError(TIMEOUT, f"The provider had no video after {limit} s.")
        poll = _retrying(ctx, lambda: adapter.poll(task, model, parts))
        if poll.state == "succeeded":
            return poll
        if poll.state == "failed":
            raise poll.error or ProviderError(PROVIDER_ERROR, "The provider reported a failure.")
        if poll.state == "cancelled":
            raise ProviderError(PROVIDER_ERROR, "The provider cancelled the task.")
        progress = 5 + 0.85 * min(100.0, poll.progress or 0)
        ctx.set_stage("generating" if poll.state == "running" else "waiting", progress=round(progress, 1))
        # The provider's hint when it gives one, else a growing pause (no busy loop, bounded latency).
        wait = poll.poll_after or delay
        delay = min(delay * 1.5, settings.MEDIAHUB_GENERATION_MAX_POLL_SECONDS)


def _retrying(ctx, call: Callable):
    """`call` again after rate limits and provider failures, with backoff and jitter; Retry-After honoured."""
    for attempt in range(settings.MEDIAHUB_GENERATION_RETRIES + 1):
        try:
            return call()
        except ProviderError as exc:
            out_of_tries = attempt == settings.MEDIAHUB_GENERATION_RETRIES
            if exc.code not in RETRYABLE or out_of_tries or (exc.retry_after or 0) > MAX_RETRY_WAIT:
                raise
            pause = exc.retry_after if exc.retry_after is not None else min(2.0**attempt, 30.0)
            ctx.set_stage(exc.code)
            ctx.sleep(pause * random.uniform(1.0, 1.25))  # noqa: S311 (jitter, not a secret)
    raise AssertionError("unreachable")


def _cancel_quietly(adapter: Adapter, task: str, model: str, parts: dict) -> None:
    """Stop the provider's task so it stops costing; a failure here must not hide why we stopped."""
    with contextlib.suppress(ProviderError):
        adapter.cancel(task, model, parts)


def _download(ctx, generation: Generation, adapter: Adapter, poll: Poll, parts: dict, request: Request) -> Outcome:
    ctx.set_stage("downloading", progress=90)
    max_bytes = settings.MEDIAHUB_GENERATION_MAX_BYTES
    target = ctx.output_path("generation.download")
    try:
        with ctx.keepalive():
            content_type = adapter.download(poll, parts, target, max_bytes=max_bytes)
    except ProviderError:
        # Temporary URLs expire: a fresh poll hands out a fresh one, once.
        poll = _retrying(ctx, lambda: adapter.poll(generation.provider_task_id, generation.model, parts))
        if poll.state != "succeeded":
            raise
        with ctx.keepalive():
            content_type = adapter.download(poll, parts, target, max_bytes=max_bytes)
    video = target.rename(target.with_suffix("." + EXTENSIONS.get(content_type, "mp4")))
    info = probe_file(video)
    if info.kind != "video":
        raise ProviderError(PROVIDER_ERROR, "The provider's file is not a video that FFmpeg can read.")
    poster = ctx.output_path("poster.jpg")
    at = min(1.0, (info.duration or 0) / 2)
    stream = ffmpeg.input(str(video), ss=at, **ctx.input_options())
    ctx.ffmpeg(stream.output(str(poster), vframes=1, **{"q:v": 3}).get_args(), duration=None, stage="poster",
               span=(95.0, 98.0))  # fmt: skip

    generation.cost = catalog.cost(generation.provider, generation.model, request.duration)
    generation.duration_seconds, generation.width, generation.height = info.duration, info.width, info.height
    generation.generation_time = round((timezone.now() - generation.created_at).total_seconds(), 3)
    generation.save(update_fields=["cost", "duration_seconds", "width", "height", "generation_time"])
    _record(generation, outcome="completed")
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.prompt).strip("-")[:48].lower() or "generation"
    result = {
        "generation": generation.id,
        "provider": generation.provider,
        "model": generation.model,
        "cost": float(generation.cost),
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
    }
    files = [OutputFile(video, f"{name}{video.suffix}"), OutputFile(poster, f"{name}-poster.jpg")]
    return Outcome(files=files, result=result)
