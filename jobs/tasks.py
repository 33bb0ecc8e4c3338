"""django-q2 entry points: thin wrappers that take ids and call services."""

from jobs.services.jobs import job_execute, jobs_recover_stale


def run_job(job_id: str) -> None:
    job_execute(job_id=job_id)


def recover_stale_jobs() -> int:
    return jobs_recover_stale()
