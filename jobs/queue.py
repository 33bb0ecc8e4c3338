"""Hand work to the django-q2 cluster.

The broker carries worker slots, not job ids: each slot runs the next job the database says may start (highest
priority first, fairest to owners), which is how priority and per-user limits work on any broker."""

from django_q.tasks import async_task


def enqueue_next(count: int = 1) -> None:
    for _ in range(count):
        async_task("jobs.tasks.run_next", group="jobs")
