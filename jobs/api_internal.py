"""The internal API (/internal/v1/): for the operator's own services, with keys holding the `internal` scope."""

from django.db.models import Count, Min
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.models import Job


class QueueView(APIView):
    @extend_schema(
        summary="Queue depth across all users: jobs per status and operation, the oldest wait, running per worker",
        responses=dict,
    )
    def get(self, request):
        counts = {status: 0 for status in Job.Status.values}
        by_operation: dict[str, dict[str, int]] = {}
        for row in Job.objects.values("status", "operation").annotate(n=Count("id")).order_by():
            counts[row["status"]] += row["n"]
            by_operation.setdefault(row["operation"], {})[row["status"]] = row["n"]
        oldest = Job.objects.filter(status=Job.Status.QUEUED).aggregate(at=Min("created_at"))["at"]
        workers = Job.objects.filter(status=Job.Status.RUNNING).values("worker").annotate(n=Count("id")).order_by()
        return Response(
            {
                "jobs": counts,
                "by_operation": by_operation,
                "oldest_queued_seconds": (timezone.now() - oldest).total_seconds() if oldest else 0,
                "running_by_worker": {row["worker"]: row["n"] for row in workers},
            }
        )
