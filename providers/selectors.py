"""Owner-scoped reads: generations, spend and usage."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from jobs.models import Job
from keys.models import ProviderCredential
from mediahub.errors import one_or_not_found
from providers.catalog import providers_catalog
from providers.models import Generation

GROUPS = {"provider": ("provider",), "model": ("provider", "model"), "day": ("day",)}


def generations_for(user) -> QuerySet[Generation]:
    return Generation.objects.filter(owner=user).select_related("job", "image", "credential")


def get_generation_for(user, generation_id: str) -> Generation:
    return one_or_not_found(generations_for(user), generation_id, "No such generation.")


def providers_for(user) -> list[dict]:
    """The catalog with the user's keys per provider: `configured` when any key not revoked is stored, `working`
    when one is active (or the provider needs none)."""
    keys = ProviderCredential.objects.filter(owner=user).exclude(status=ProviderCredential.Status.REVOKED)
    states: dict[str, set[str]] = {}
    for provider, state in keys.values_list("provider", "status"):
        states.setdefault(provider, set()).add(state)
    listed = []
    for entry in providers_catalog():
        mine = states.get(entry["name"], set())
        working = not entry["needs_credential"] or ProviderCredential.Status.ACTIVE in mine
        listed.append(entry | {"credential": {"configured": bool(mine), "working": working}})
    return listed


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spend_this_month(user) -> Decimal:
    """What this month's generations cost: the real cost of finished ones, the estimate of those still running."""
    mine = Generation.objects.filter(owner=user, created_at__gte=month_start())
    active = Q(job__status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    spent = mine.aggregate(done=Sum("cost", filter=~active), pending=Sum("estimated_cost", filter=active))
    return (spent["done"] or Decimal(0)) + (spent["pending"] or Decimal(0))


def usage(user, *, start: datetime, end: datetime, group_by: str) -> list[dict]:
    """Counts, cost and average generation time per provider, provider+model or day, in [start, end)."""
    rows = (
        generations_for(user)
        .filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at"))
        .values(*GROUPS[group_by])
        .annotate(
            count=Count("id"),
            succeeded=Count("id", filter=Q(job__status=Job.Status.SUCCEEDED)),
            failed=Count("id", filter=Q(job__status=Job.Status.FAILED)),
            total_cost=Sum("cost"),
            average_generation_time=Avg("generation_time", filter=Q(job__status=Job.Status.SUCCEEDED)),
        )
        .order_by(*GROUPS[group_by])
    )
    return [
        row
        | {
            "total_cost": float(row["total_cost"] or 0),
            "average_generation_time": round(row["average_generation_time"], 3)
            if row["average_generation_time"] is not None
            else None,
        }
        for row in rows
    ]
