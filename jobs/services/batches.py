"""Batches: up to 1000 jobs validated all-or-nothing and created in one transaction."""

from django.conf import settings
from django.db import IntegrityError, transaction

from jobs.models import Batch, Job
from jobs.services.events import job_finished
from jobs.services.jobs import job_validate, jobs_create, webhook_url_errors
from mediahub.errors import InvalidInput
from mediahub.idempotency import fingerprint, replay


def _job_body(index: int, body: dict) -> tuple[dict, dict[str, list[str]]]:
    """A batch entry as job_validate's keywords, or the entry's own shape errors (`jobs.N.field`)."""
    from jobs.serializers import JobIn

    entry = JobIn(data=body)
    if entry.is_valid():
        return dict(entry.validated_data), {}
    return {}, {f"jobs.{index}.{name}": [str(m) for m in messages] for name, messages in entry.errors.items()}


def batch_submit(*, owner, jobs: list[dict], webhook_url: str = "", idempotency_key: str = "") -> tuple[Batch, bool]:
    """Validate every job body, then create the batch and all its jobs at once, or nothing."""
    request = fingerprint(jobs=jobs, webhook_url=webhook_url)
    earlier = replay(Batch.objects.filter(owner=owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    if not 1 <= len(jobs) <= settings.MEDIAHUB_MAX_BATCH_JOBS:
        raise InvalidInput(
            "Wrong number of jobs.", fields={"jobs": [f"Give 1–{settings.MEDIAHUB_MAX_BATCH_JOBS} jobs."]}
        )
    errors = webhook_url_errors(webhook_url)
    specs = []
    for index, body in enumerate(jobs):
        fields, shape_errors = _job_body(index, body)
        errors |= shape_errors
        if shape_errors:
            continue
        try:
            specs.append(job_validate(owner=owner, **fields))
        except InvalidInput as exc:
            errors |= {f"jobs.{index}.{name}": messages for name, messages in exc.fields.items()}
    if errors:
        raise InvalidInput("Some jobs of the batch are invalid; none was created.", fields=errors)
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                owner=owner, webhook_url=webhook_url, idempotency_key=idempotency_key, request_fingerprint=request
            )
            jobs_create(owner=owner, specs=specs, batch=batch)
    except IntegrityError:
        earlier = replay(Batch.objects.filter(owner=owner), idempotency_key, request)
        if earlier is None:
            raise
        return earlier, False
    return batch, True


def batch_cancel(*, batch: Batch) -> Batch:
    """Cancel every job of the batch that has not finished; the last one announces `batch.finished`."""
    for job in batch.jobs.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).order_by("-status"):
        if job.cancel():
            job_finished(job)
    batch.refresh_from_db()
    return batch
