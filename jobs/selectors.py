"""Owner-scoped reads: every query for a user's objects starts here, so no view can forget the scope."""

from django.db.models import Count, QuerySet, Sum

from jobs.models import Asset, Batch, Job, WebhookDelivery, WebhookEndpoint
from mediahub.errors import one_or_not_found


def assets_for(user) -> QuerySet[Asset]:
    return Asset.objects.filter(owner=user)


def jobs_for(user) -> QuerySet[Job]:
    return Job.objects.filter(owner=user).prefetch_related("input_links", "outputs")


def get_asset_for(user, asset_id: str) -> Asset:
    return one_or_not_found(assets_for(user), asset_id, "No such asset.")


def get_job_for(user, job_id: str) -> Job:
    """One job with its input links; its outputs are read only if it succeeded (a polled running job has none)."""
    return one_or_not_found(Job.objects.filter(owner=user).prefetch_related("input_links"), job_id, "No such job.")


def batches_for(user) -> QuerySet[Batch]:
    return Batch.objects.filter(owner=user)


def get_batch_for(user, batch_id: str) -> Batch:
    return one_or_not_found(batches_for(user), batch_id, "No such batch.")


def batch_summary(batch: Batch) -> dict:
    """Aggregate status and progress of a batch's jobs (finished jobs count as complete).

    The status is `queued` until a job starts, `running` while any is unfinished, then `succeeded` when all
    succeeded, `failed` when any failed, otherwise `cancelled`."""
    rows = batch.jobs.values("status").annotate(n=Count("id"), progress=Sum("progress"))
    counts = {status: 0 for status in Job.Status.values}
    running_progress = 0.0
    for row in rows:
        counts[row["status"]] = row["n"]
        if row["status"] == Job.Status.RUNNING:
            running_progress = row["progress"] or 0.0
    total = sum(counts.values())
    finished = sum(counts[status] for status in Job.FINISHED)
    progress = round((100 * finished + running_progress) / total, 1) if total else 100.0
    if finished < total:
        status = Job.Status.QUEUED if counts[Job.Status.QUEUED] == total else Job.Status.RUNNING
    elif counts[Job.Status.SUCCEEDED] == total:
        status = Job.Status.SUCCEEDED
    elif counts[Job.Status.FAILED]:
        status = Job.Status.FAILED
    else:
        status = Job.Status.CANCELLED
    return {"status": status, "progress": progress, "total": total, "counts": counts}


def webhook_endpoints_for(user) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=user)


def get_webhook_endpoint_for(user, endpoint_id: str) -> WebhookEndpoint:
    return one_or_not_found(webhook_endpoints_for(user), endpoint_id, "No such webhook endpoint.")


def deliveries_for(user) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(owner=user)


def get_delivery_for(user, delivery_id: str) -> WebhookDelivery:
    return one_or_not_found(deliveries_for(user), delivery_id, "No such delivery.")
