"""Which queued job starts next: priority first, then the owner with fewest running jobs, then the oldest.

No owner runs more than MEDIAHUB_MAX_RUNNING_JOBS_PER_USER jobs at once, so one user's thousand-job batch
leaves workers for everyone else's single jobs."""

import os
import socket

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce

from jobs.models import Job, JobInput

CLAIM_TRIES = 5


def worker_host() -> str:
    return socket.gethostname()


def worker_name() -> str:
    """`<host>:<pid>`: which process on which host runs a job."""
    return f"{worker_host()}:{os.getpid()}"


def _candidates():
    running = (
        Job.objects.filter(status=Job.Status.RUNNING, owner=OuterRef("owner"))
        .values("owner")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        Job.objects.filter(status=Job.Status.QUEUED)
        .annotate(owner_running=Coalesce(Subquery(running), 0))
        .filter(owner_running__lt=settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER)
        .order_by("-priority", "owner_running", "created_at")
    )


def job_claim_next(*, worker: str) -> Job | None:
    """Claim the next job that may start, for `worker`; None when every queued job waits on its owner's cap."""
    cap = settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER
    for _ in range(CLAIM_TRIES):  # another worker may claim the candidate first; then look again
        candidate = _candidates().values_list("id", "owner_id").first()
        if candidate is None:
            return None
        job_id, owner_id = candidate
        with transaction.atomic():
            # Two workers claiming for one owner at once would both see room under the cap: the owner's row
            # lock makes them take turns (SQLite's immediate transactions already do).
            list(get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk"))
            if Job.objects.filter(owner_id=owner_id, status=Job.Status.RUNNING).count() >= cap:
                continue
            job = Job(id=job_id, owner_id=owner_id)  # claim() loads the row it updated
            if not job.claim(worker=worker, lease_seconds=settings.MEDIAHUB_JOB_LEASE_SECONDS):
                continue
        # What the run and every event of the job read, loaded once: its inputs with their assets, its outputs.
        links = Prefetch("input_links", queryset=JobInput.objects.select_related("asset"))
        prefetch_related_objects([job], links, "outputs")
        return job
    return None
