"""django-q2 entry points: thin wrappers that take ids and call services."""

from jobs.services.jobs import jobs_recover_stale, jobs_run_next
from jobs.services.scratch import scratch_sweep
from jobs.services.webhooks import deliveries_send_due, delivery_send


def run_next() -> str | None:
    return jobs_run_next()


def recover_stale_jobs() -> int:
    return jobs_recover_stale()


def sweep_scratch_folders() -> int:
    return scratch_sweep()


def send_webhook(delivery_id: str) -> None:
    delivery_send(delivery_id=delivery_id)


def send_due_webhooks() -> int:
    return deliveries_send_due()
