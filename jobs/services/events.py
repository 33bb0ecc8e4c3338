"""What happens when a job reaches a final status: live update, webhook events, batch completion."""

from jobs.models import Job
from jobs.realtime import JobEvents
from jobs.serializers import batch_payload, job_payload
from jobs.services.webhooks import event_emit


def job_finished(job: Job) -> None:
    """Announce a final status; called once, by whoever made the transition (worker, cancel, recovery)."""
    JobEvents.changed(job)
    event_emit(
        owner=job.owner,
        event_type=f"job.{job.status}",
        data=lambda: job_payload(job),
        url=job.webhook_url,
        job=job,
    )
    if job.batch_id and job.batch.mark_finished():
        event_emit(
            owner=job.owner,
            event_type="batch.finished",
            data=lambda: batch_payload(job.batch, with_jobs=False),
            url=job.batch.webhook_url,
            batch=job.batch,
        )
