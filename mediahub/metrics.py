"""GET /metrics: Prometheus text. Jobs, assets, deliveries and job durations are read from the database and the
workers from django-q2's cluster stats at scrape time, so every web process tells the same (workers may run on
other hosts); request latency is each web process's own, summed across processes in multiprocess mode."""

import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

from jobs.models import Asset, Job, WebhookDelivery
from jobs.operations import REGISTRY
from mediahub import probes
from mediahub.request_metrics import REQUEST_DURATION

# Upper bounds of the job duration buckets, in seconds: a thumbnail's second to a long render's hours.
JOB_DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600)


class DatabaseCollector:
    def collect(self):
        jobs = GaugeMetricFamily("mediahub_jobs", "Jobs by status and operation.", labels=["status", "operation"])
        counts = {(status, name): 0 for status in Job.Status.values for name in REGISTRY}
        for row in Job.objects.values("status", "operation").annotate(n=Count("id")):
            counts[(row["status"], row["operation"])] = row["n"]
        for (status, operation), count in sorted(counts.items()):
            jobs.add_metric([status, operation], count)
        yield jobs

        assets = GaugeMetricFamily("mediahub_assets", "Stored assets by kind.", labels=["kind"])
        size = GaugeMetricFamily("mediahub_asset_bytes", "Bytes of stored assets by kind.", labels=["kind"])
        for row in Asset.objects.values("kind").annotate(n=Count("id"), bytes=Sum("size")).order_by("kind"):
            assets.add_metric([row["kind"]], row["n"])
            size.add_metric([row["kind"]], row["bytes"] or 0)
        yield assets
        yield size

        oldest = Job.objects.filter(status=Job.Status.QUEUED).aggregate(oldest=Min("created_at"))["oldest"]
        yield GaugeMetricFamily(
            "mediahub_oldest_queued_job_age_seconds",
            "How long the oldest queued job has waited (0 when none waits).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0,
        )

        deliveries = GaugeMetricFamily(
            "mediahub_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        counts = dict.fromkeys(WebhookDelivery.Status.values, 0)
        counts |= dict(WebhookDelivery.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status, count in sorted(counts.items()):
            deliveries.add_metric([status], count)
        yield deliveries

        yield job_durations()


def job_durations() -> HistogramMetricFamily:
    """Finished jobs' run times (started_at..finished_at of their last attempt), bucketed by one query."""
    family = HistogramMetricFamily(
        "mediahub_job_duration_seconds",
        "Run time of finished jobs (their last attempt), by operation and final status.",
        labels=["operation", "status"],
    )
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {
        f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(JOB_DURATION_BUCKETS)
    }
    rows = (
        Job.objects.filter(status__in=Job.FINISHED, started_at__isnull=False, finished_at__isnull=False)
        .annotate(duration=duration)
        .values("operation", "status")
        .annotate(count=Count("id"), total=Sum("duration"), **buckets)
        .order_by("operation", "status")
    )
    for row in rows:
        counts = [(floatToGoString(bound), row[f"le_{i}"]) for i, bound in enumerate(JOB_DURATION_BUCKETS)]
        total = row["total"] or timedelta(0)
        family.add_metric([row["operation"], row["status"]], [*counts, ("+Inf", row["count"])], total.total_seconds())
    return family


class WorkersCollector:
    """Workers alive from django-q2's cluster stats; nothing when they cannot be read in time (alert on absence)."""

    def collect(self):
        clusters = probes.gather({"clusters": probes.cluster_stats})["clusters"]
        if isinstance(clusters, Exception):
            return
        yield GaugeMetricFamily(
            "mediahub_worker_clusters", "django-q2 clusters (qcluster processes) reporting.", value=len(clusters)
        )
        yield GaugeMetricFamily(
            "mediahub_workers", "Worker processes alive, in all clusters.", value=probes.alive_workers(clusters)
        )


def _allowed(address: str | None) -> bool:
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(cidr, strict=False) for cidr in settings.MEDIAHUB_METRICS_ALLOWLIST)


def _bearer_token_matches(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.MEDIAHUB_METRICS_TOKEN.encode()
    )


@require_GET
def metrics(request):
    if settings.MEDIAHUB_METRICS_TOKEN:
        if not _bearer_token_matches(request):
            response = HttpResponse("Metrics need `Authorization: Bearer <MEDIAHUB_METRICS_TOKEN>`.\n", status=401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _allowed(request.META.get("REMOTE_ADDR")):
        return HttpResponseForbidden("Metrics are served to the networks in MEDIAHUB_METRICS_ALLOWLIST only.\n")
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    registry.register(WorkersCollector())
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(REQUEST_DURATION)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
