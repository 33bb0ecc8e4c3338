"""Jobs: submit, run on a worker, cancel, retry, and recover the jobs of workers that died."""

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
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
from jobs.operations.base import FieldError, OutputFolder
from jobs.queue import enqueue_next
from jobs.quotas import check_active_jobs, check_storage
from jobs.realtime import JobEvents
from jobs.selectors import assets_for
from jobs.services.assets import asset_create, asset_create_folder, asset_files_delete
from jobs.services.events import job_finished
from jobs.services.scheduling import job_claim_next, worker_name
from jobs.worker import stopping
from mediahub.errors import Conflict, InvalidInput
from mediahub.idempotency import fingerprint, replay
from mediahub.logs import job_run_logged
from mediahub.ssrf import FetchFailed, UnsafeUrl, check_url

log = logging.getLogger(__name__)

_last_recovery = float("-inf")  # time.monotonic() of this process's last look for jobs whose worker died


def params_errors(error: PydanticError, prefix: str = "params") -> dict[str, list[str]]:
    """Pydantic errors as the contract's `fields`: dotted paths to lists of messages."""
    fields: dict[str, list[str]] = {}
    for item in error.errors():
        loc = item["loc"]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc = (*loc, cause.field)
        path = ".".join([prefix, *(str(part) for part in loc)] if prefix else [str(part) for part in loc])
        message = item["msg"].removeprefix("Value error, ")
        fields.setdefault(path, []).append(message)
    return fields


@dataclass
class JobSpec:
    """A validated job body, ready to be created (alone or in a batch)."""

    operation: str
    params: dict
    inputs: list[Asset]
    param_assets: dict[str, Asset] = field(default_factory=dict)
    priority: int = 0
    webhook_url: str = ""


def webhook_url_errors(url: str, field_name: str = "webhook_url") -> dict[str, list[str]]:
    """The same SSRF check as input URLs, at submit time (and again at each delivery)."""
    if not url:
        return {}
    try:
        check_url(url)
    except (UnsafeUrl, FetchFailed) as exc:
        return {field_name: [exc.message]}
    return {}


def job_validate(
    *,
    owner,
    operation: str,
    inputs: list[str],
    params: dict,
    priority: int = 0,
    webhook_url: str = "",
    via_owner_api: bool = False,
) -> JobSpec:
    """Check a job body against its operation and the owner's assets; InvalidInput names every bad field."""
    op = get_operation(operation)
    if op is None:
        raise InvalidInput("Unknown operation.", fields={"operation": [f"'{operation}' is not an operation."]})
    if op.submit_via and not via_owner_api:
        raise InvalidInput("Submit this operation elsewhere.", fields={"operation": [f"Use {op.submit_via}."]})
    try:
        validated = op.params_model.model_validate(params)
    except PydanticError as exc:
        raise InvalidInput("Invalid params.", fields=params_errors(exc)) from None
    if not op.min_inputs <= len(inputs) <= op.max_inputs:
        count = op.min_inputs if op.min_inputs == op.max_inputs else f"{op.min_inputs}–{op.max_inputs}"
        raise InvalidInput("Wrong number of inputs.", fields={"inputs": [f"{operation} takes {count} input(s)."]})
    named = {name: getattr(validated, name) for name in op.asset_params if getattr(validated, name, None)}
    found = assets_for(owner).in_bulk([*inputs, *named.values()])
    errors = {f"inputs.{i}": [f"No asset {asset_id}."] for i, asset_id in enumerate(inputs) if asset_id not in found}
    errors |= {f"params.{name}": [f"No asset {asset_id}."] for name, asset_id in named.items() if asset_id not in found}
    if errors:
        raise InvalidInput("Unknown asset.", fields=errors)
    assets = [found[asset_id] for asset_id in inputs]
    param_assets = {name: found[asset_id] for name, asset_id in named.items()}
    errors = op.check_inputs(assets, validated)
    for name, asset in param_assets.items():
        if asset.kind not in op.asset_params[name]:
            wanted = " or ".join(op.asset_params[name])
            errors[f"params.{name}"] = [f"{asset.id} is {asset.kind}, {name} needs {wanted}."]
    if errors:
        raise InvalidInput("An input cannot be used by this operation.", fields=errors)
    errors = webhook_url_errors(webhook_url)
    if errors:
        raise InvalidInput("The webhook URL is not allowed.", fields=errors)
    return JobSpec(
        operation=operation,
        params=validated.model_dump(exclude_none=True, mode="json"),
        inputs=assets,
        param_assets=param_assets,
        priority=priority,
        webhook_url=webhook_url,
    )


def jobs_create(*, owner, specs: list[JobSpec], batch=None, idempotency_key: str = "", fingerprint_: str = ""):
    """Create the jobs of `specs` in the caller's transaction and hand them to the workers on commit."""
    check_active_jobs(owner, len(specs))
    check_storage(owner)
    asset_ids = {asset.id for spec in specs for asset in (*spec.inputs, *spec.param_assets.values())}
    # Lock the inputs: asset_delete checks for active jobs under the same lock.
    list(Asset.objects.select_for_update().filter(id__in=asset_ids).values_list("id"))
    jobs = Job.objects.bulk_create(
        Job(
            owner=owner,
            operation=spec.operation,
            params=spec.params,
            priority=spec.priority,
            webhook_url=spec.webhook_url,
            batch=batch,
            max_attempts=settings.MEDIAHUB_JOB_MAX_ATTEMPTS,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint_,
        )
        for spec in specs
    )
    links = []
    for job, spec in zip(jobs, specs, strict=True):
        named = [(role, asset) for role, asset in spec.param_assets.items()]
        roles = [(JobInput.INPUT, asset) for asset in spec.inputs] + named
        links += [JobInput(job=job, asset=asset, position=i, role=role) for i, (role, asset) in enumerate(roles)]
    JobInput.objects.bulk_create(links)
    # One worker slot per job up to what the owner may run at once; each finished job hands its slot on.
    slots = min(len(jobs), settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER)
    transaction.on_commit(lambda: enqueue_next(slots))
    return jobs


def job_submit(
    *,
    owner,
    operation: str,
    inputs: list[str],
    params: dict,
    priority: int = 0,
    webhook_url: str = "",
    idempotency_key: str = "",
) -> tuple[Job, bool]:
    """Validate and queue a job. Returns (job, created); the same Idempotency-Key and body give the first job."""
    request = fingerprint(operation=operation, inputs=inputs, params=params, priority=priority, webhook_url=webhook_url)
    earlier = replay(Job.objects.filter(owner=owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    spec = job_validate(
        owner=owner, operation=operation, inputs=inputs, params=params, priority=priority, webhook_url=webhook_url
    )
    try:
        with transaction.atomic():
            (job,) = jobs_create(owner=owner, specs=[spec], idempotency_key=idempotency_key, fingerprint_=request)
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
        job_finished(job)
        return job
    raise Conflict(f"The job is already {job.status}.", code="job_finished")


def job_retry(*, job: Job) -> Job:
    """Run a failed or cancelled job again, with a fresh attempt count."""
    if not job.requeue(from_statuses=[Job.Status.FAILED, Job.Status.CANCELLED], reset_attempts=True):
        raise Conflict(f"Only failed or cancelled jobs can be retried; this one is {job.status}.", code="not_retryable")
    transaction.on_commit(enqueue_next)
    JobEvents.changed(job)
    return job


def jobs_run_next() -> str | None:
    """Claim and run the next job this worker may start; None when no queued job can start now."""
    if stopping():
        # A slot that reaches a stopping cluster goes back to the broker, for a cluster that stays.
        if Job.objects.filter(status=Job.Status.QUEUED).exists():
            enqueue_next()
        return None
    _recover_stale_when_due()
    job = job_claim_next(worker=worker_name())
    if job is None:
        return None
    JobEvents.changed(job)
    settings.MEDIAHUB_WORK_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{job.id}-", dir=settings.MEDIAHUB_WORK_DIR))
    recorded = False  # whether this worker wrote the outcome (not a cancel or a takeover meanwhile)
    with job_run_logged(job):
        try:
            _run(job, workdir)
            recorded = True
        except Cancelled:
            if stopping() and job.hand_back():
                log.info("job %s handed back: its worker stopped before it finished", job.id)
            else:
                log.info("job %s stopped: cancelled or taken over", job.id)
        except MediaError as exc:
            # FFmpeg gets the worker's SIGTERM too when the whole process tree is signalled.
            if stopping() and job.hand_back():
                log.info("job %s handed back: its worker stopped before it finished (%s)", job.id, exc.code)
            else:
                recorded = job.finish(Job.Status.FAILED, error=exc.as_dict(), log_tail=exc.detail[-4000:])
        except Exception as exc:
            log.exception("job %s crashed", job.id)
            error = {"code": "internal_error", "message": f"The worker failed unexpectedly ({type(exc).__name__})."}
            recorded = job.finish(Job.Status.FAILED, error=error)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            job.refresh_from_db()
    if recorded:
        job_finished(job)
    else:
        JobEvents.changed(job)
    _recover_stale_when_due()
    if Job.objects.filter(status=Job.Status.QUEUED).exists():
        enqueue_next()  # hand this slot on: a job may have waited for its owner's running jobs to drop
    return job.id


def _recover_stale_when_due() -> None:
    """jobs_recover_stale from a busy worker, at most every half lease per process: a job whose worker died is
    taken up again within about a lease, not at the minutely schedule's next run (which a cluster in a crash
    loop never reaches: django-q2 runs schedules only once a cluster has lived a while)."""
    global _last_recovery
    if time.monotonic() - _last_recovery < settings.MEDIAHUB_JOB_LEASE_SECONDS / 2:
        return
    _last_recovery = time.monotonic()
    recovered = jobs_recover_stale()
    if recovered:
        log.info("re-queued %d jobs whose worker stopped or whose slot was lost", recovered)


def _run(job: Job, workdir: Path) -> None:
    op = get_operation(job.operation)
    if op is None:
        raise MediaError("unknown_operation", f"This worker does not know the operation '{job.operation}'.")
    params = op.params_model.model_validate(job.params)
    ctx = JobContext(job, workdir)
    used = [*ctx.inputs, *ctx.param_assets.values()]
    if any(asset is None for asset in used):
        raise MediaError("input_missing", "An input asset was deleted before the job ran.")
    for asset in used:
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
                if isinstance(output, OutputFolder):
                    stored.append(asset_create_folder(owner=job.owner, folder=output, source=op.output_source, job=job))
                    continue
                source = op.output_source
                stored.append(asset_create(owner=job.owner, path=output.path, name=output.name, source=source, job=job))
            names = {output.name: asset.id for output, asset in zip(outcome.files, stored, strict=True)}
            result = op.link_result(outcome.result, names)
            if not job.finish(Job.Status.SUCCEEDED, progress=100, stage="done", result=result):
                raise Cancelled()
        except BaseException:
            for asset in stored:
                asset_files_delete(asset)
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
                transaction.on_commit(enqueue_next)
                recovered += 1
            JobEvents.changed(job)
        else:
            error = {
                "code": "worker_lost",
                "message": f"The worker running this job stopped responding {job.attempts} times.",
            }
            if Job.objects.filter(id=job.id, status=Job.Status.RUNNING, lease_expires_at__lt=now).update(
                status=Job.Status.FAILED, error=error, finished_at=now, updated_at=now, lease_expires_at=None
            ):
                job.refresh_from_db()
                job_finished(job)

    waited_since = now - timedelta(seconds=settings.MEDIAHUB_REQUEUE_AFTER_SECONDS)
    waiting = Job.objects.filter(status=Job.Status.QUEUED, enqueued_at__lt=waited_since)
    handed = waiting.update(enqueued_at=now)
    if handed:
        # A slot that finds nothing it may start ends at once, so extra slots cost nothing.
        transaction.on_commit(lambda: enqueue_next(handed))
    return recovered + handed
