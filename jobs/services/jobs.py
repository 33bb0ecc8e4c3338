"""Jobs: submit, run on a worker, cancel, retry, and recover the jobs of workers that died."""

import logging
import os
import shutil
import socket
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticError

from jobs.execution import JobContext
from jobs.ffmpeg.errors import Cancelled, MediaError
from jobs.models import Asset, Job, JobInput
from jobs.operations import get_operation
from jobs.operations.base import FieldError
from jobs.queue import enqueue_job
from jobs.realtime import JobEvents
from jobs.selectors import assets_for
from jobs.services.assets import asset_create
from mediahub.errors import Conflict, InvalidInput
from mediahub.idempotency import fingerprint, replay

log = logging.getLogger(__name__)


def params_errors(error: PydanticError, prefix: str = "params") -> dict[str, list[str]]:
    """Pydantic errors as the contract's `fields`: dotted paths to lists of messages."""
    fields: dict[str, list[str]] = {}
    for item in error.errors():
        loc = item["loc"]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc = (*loc, cause.field)
        path = ".".join([prefix, *(str(part) for part in loc)])
        message = item["msg"].removeprefix("Value error, ")
        fields.setdefault(path, []).append(message)
    return fields


def job_submit(
    *,
    owner,
    operation: str,
    inputs: list[str],
    params: dict,
    priority: int = 0,
    idempotency_key: str = "",
) -> tuple[Job, bool]:
    """Validate and queue a job. Returns (job, created); the same Idempotency-Key and body give the first job."""
    request = fingerprint(operation=operation, inputs=inputs, params=params, priority=priority)
    earlier = replay(Job.objects.filter(owner=owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False

    op = get_operation(operation)
    if op is None:
        raise InvalidInput("Unknown operation.", fields={"operation": [f"'{operation}' is not an operation."]})
    try:
        validated = op.params_model.model_validate(params)
    except PydanticError as exc:
        raise InvalidInput("Invalid params.", fields=params_errors(exc)) from None
    if not op.min_inputs <= len(inputs) <= op.max_inputs:
        count = op.min_inputs if op.min_inputs == op.max_inputs else f"{op.min_inputs}–{op.max_inputs}"
        raise InvalidInput("Wrong number of inputs.", fields={"inputs": [f"{operation} takes {count} input(s)."]})
    found = assets_for(owner).in_bulk(inputs)
    missing = {f"inputs.{i}": [f"No asset {asset_id}."] for i, asset_id in enumerate(inputs) if asset_id not in found}
    if missing:
        raise InvalidInput("Unknown input asset.", fields=missing)
    assets = [found[asset_id] for asset_id in inputs]
    errors = op.check_inputs(assets, validated)
    if errors:
        raise InvalidInput("An input cannot be used by this operation.", fields=errors)

    try:
        with transaction.atomic():
            # Lock the inputs: asset_delete checks for active jobs under the same lock.
            list(Asset.objects.select_for_update().filter(id__in=inputs).values_list("id"))
            job = Job.objects.create(
                owner=owner,
                operation=operation,
                params=validated.model_dump(exclude_none=True, mode="json"),
                priority=priority,
                max_attempts=settings.MEDIAHUB_JOB_MAX_ATTEMPTS,
                idempotency_key=idempotency_key,
                request_fingerprint=request,
            )
            JobInput.objects.bulk_create(JobInput(job=job, asset=asset, position=i) for i, asset in enumerate(assets))
            transaction.on_commit(lambda: enqueue_job(job.id))
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one created the job.
        earlier = replay(Job.objects.filter(owner=owner), idempotency_key, request)
        if earlier is None:
            raise
        return earlier, False
    return job, True


def job_cancel(*, job: Job) -> Job:
    if job.is_finished:
        raise Conflict(f"The job is already {job.status}.", code="job_finished")
    if job.cancel():
        JobEvents.changed(job)
        return job
    raise Conflict(f"The job is already {job.status}.", code="job_finished")


def job_retry(*, job: Job) -> Job:
    """Run a failed or cancelled job again, with a fresh attempt count."""
    if not job.requeue(from_statuses=[Job.Status.FAILED, Job.Status.CANCELLED], reset_attempts=True):
        raise Conflict(f"Only failed or cancelled jobs can be retried; this one is {job.status}.", code="not_retryable")
    transaction.on_commit(lambda: enqueue_job(job.id))
    JobEvents.changed(job)
    return job


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_execute(*, job_id: str) -> None:
    """Run one job on this worker: claim it, run its operation, store outputs, record the outcome."""
    job = Job.objects.filter(id=job_id).first()
    if job is None or not job.claim(worker=worker_name(), lease_seconds=settings.MEDIAHUB_JOB_LEASE_SECONDS):
        return  # gone, cancelled, or claimed by another worker
    JobEvents.changed(job)
    settings.MEDIAHUB_WORK_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{job.id}-", dir=settings.MEDIAHUB_WORK_DIR))
    try:
        _run(job, workdir)
    except Cancelled:
        log.info("job %s stopped: cancelled or taken over", job.id)
    except MediaError as exc:
        job.finish(Job.Status.FAILED, error=exc.as_dict(), log_tail=exc.detail[-4000:])
    except Exception as exc:
        log.exception("job %s crashed", job.id)
        error = {"code": "internal_error", "message": f"The worker failed unexpectedly ({type(exc).__name__})."}
        job.finish(Job.Status.FAILED, error=error)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        job.refresh_from_db()
        JobEvents.changed(job)


def _run(job: Job, workdir: Path) -> None:
    op = get_operation(job.operation)
    if op is None:
        raise MediaError("unknown_operation", f"This worker does not know the operation '{job.operation}'.")
    params = op.params_model.model_validate(job.params)
    ctx = JobContext(job, workdir)
    if len(ctx.inputs) != job.input_links.count() or any(asset is None for asset in ctx.inputs):
        raise MediaError("input_missing", "An input asset was deleted before the job ran.")
    for asset in ctx.inputs:
        if not asset.file.storage.exists(asset.file.name):
            raise MediaError("input_missing", f"The file of input {asset.id} is missing from storage.")
    errors = op.check_inputs(ctx.inputs, params)
    if errors:
        raise MediaError("unusable_input", " ".join(msg for msgs in errors.values() for msg in msgs))

    outcome = op.run(ctx, params)

    ctx.set_stage("saving")
    stored: list[Asset] = []
    with ctx.keepalive():
        try:
            for output in outcome.files:
                stored.append(asset_create(owner=job.owner, path=output.path, name=output.name, source="job", job=job))
            if not job.finish(Job.Status.SUCCEEDED, progress=100, stage="done", result=outcome.result):
                raise Cancelled()
        except BaseException:
            for asset in stored:
                asset.file.delete(save=False)
                asset.delete()
            raise


def jobs_recover_stale() -> int:
    """Re-queue running jobs whose lease lapsed (their worker died), failing them after max attempts, and hand
    long-queued jobs to the broker again (a broker restarted without persistence loses its tasks)."""
    now = timezone.now()
    recovered = 0
    for job in Job.objects.filter(status=Job.Status.RUNNING, lease_expires_at__lt=now):
        if job.attempts < job.max_attempts:
            if job.requeue(from_statuses=[Job.Status.RUNNING], lease_expires_at__lt=now):
                transaction.on_commit(lambda job_id=job.id: enqueue_job(job_id))
                recovered += 1
        else:
            error = {
                "code": "worker_lost",
                "message": f"The worker running this job stopped responding {job.attempts} times.",
            }
            Job.objects.filter(id=job.id, status=Job.Status.RUNNING, lease_expires_at__lt=now).update(
                status=Job.Status.FAILED, error=error, finished_at=now, updated_at=now, lease_expires_at=None
            )
        job.refresh_from_db()
        JobEvents.changed(job)

    waited_since = now - timedelta(seconds=settings.MEDIAHUB_REQUEUE_AFTER_SECONDS)
    waiting = Job.objects.filter(status=Job.Status.QUEUED, enqueued_at__lt=waited_since)
    for job_id in waiting.values_list("id", flat=True):
        # Claiming is conditional, so a task the broker still had only finds the job taken.
        if Job.objects.filter(id=job_id, status=Job.Status.QUEUED, enqueued_at__lt=waited_since).update(
            enqueued_at=now
        ):
            transaction.on_commit(lambda job_id=job_id: enqueue_job(job_id))
            recovered += 1
    return recovered
