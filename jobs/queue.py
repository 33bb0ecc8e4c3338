"""Hand work to the django-q2 cluster."""

from django_q.tasks import async_task


def enqueue_job(job_id: str) -> None:
    async_task("jobs.tasks.run_job", job_id, task_name=job_id, group="jobs")
