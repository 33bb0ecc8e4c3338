"""Per-user limits checked before any work starts: stored bytes and unfinished jobs."""

from django.conf import settings
from django.db.models import Sum

from jobs.models import Asset, Job
from mediahub.errors import AppError


class StorageQuotaExceeded(AppError):
    status = 413
    code = "storage_quota_exceeded"


class TooManyJobs(AppError):
    status = 429
    code = "too_many_jobs"


def storage_used(owner) -> int:
    return Asset.objects.filter(owner=owner).aggregate(total=Sum("size"))["total"] or 0


def check_storage(owner, incoming: int = 0) -> None:
    """Refuse when the owner's assets plus `incoming` bytes pass MEDIAHUB_STORAGE_QUOTA_MB (0: no quota)."""
    quota = settings.MEDIAHUB_STORAGE_QUOTA_MB * 1024 * 1024
    if not quota:
        return
    used = storage_used(owner)
    if used + incoming > quota or (not incoming and used >= quota):
        raise StorageQuotaExceeded(
            f"Your storage quota of {settings.MEDIAHUB_STORAGE_QUOTA_MB} MB is used up "
            f"({used / 2**20:.1f} MB stored). Delete assets to make room."
        )


def check_active_jobs(owner, adding: int) -> None:
    """Refuse jobs past MEDIAHUB_MAX_ACTIVE_JOBS_PER_USER queued or running at once."""
    limit = settings.MEDIAHUB_MAX_ACTIVE_JOBS_PER_USER
    active = Job.objects.filter(owner=owner, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).count()
    if active + adding > limit:
        raise TooManyJobs(f"You have {active} unfinished jobs; at most {limit} may wait or run at once.")
