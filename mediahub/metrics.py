"""GET /metrics: Prometheus text, read from the database at scrape time so every web process tells the same."""

import ipaddress

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from jobs.models import Asset, Job, WebhookDelivery
from jobs.operations import REGISTRY


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


def _allowed(address: str | None) -> bool:
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(cidr, strict=False) for cidr in settings.MEDIAHUB_METRICS_ALLOWLIST)


@require_GET
def metrics(request):
    if not _allowed(request.META.get("REMOTE_ADDR")):
        return HttpResponseForbidden("Metrics are served to the networks in MEDIAHUB_METRICS_ALLOWLIST only.\n")
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
