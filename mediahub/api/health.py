"""Health for people and orchestrators: everything (GET /api/v1/health), liveness (the process answers),
readiness (what serving requests needs: never the workers) and the workers' state. No auth, no throttle (load
balancers poll them); every check has a deadline (mediahub.probes)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mediahub import probes


class HealthCheckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "error"])
    detail = serializers.CharField(help_text="What was found, or what failed.")


def _checks_answer(name: str, parts: list[str]):
    return inline_serializer(
        name,
        {
            "status": serializers.ChoiceField(choices=["ok", "degraded"]),
            "checks": inline_serializer(f"{name}Checks", {part: HealthCheckSerializer() for part in parts}),
        },
    )


HEALTH = _checks_answer("Health", list(probes.ALL_CHECKS))
READINESS = _checks_answer("Readiness", list(probes.READINESS_CHECKS))
LIVENESS = inline_serializer("Liveness", {"status": serializers.ChoiceField(choices=["ok"])})
CLUSTERS = inline_serializer(
    "WorkerCluster",
    {
        "id": serializers.CharField(),
        "host": serializers.CharField(),
        "pid": serializers.IntegerField(),
        "status": serializers.CharField(help_text="django-q2's: Starting, Working, Idle, Stopping, Stopped."),
        "workers": serializers.ListField(child=serializers.IntegerField(), help_text="The worker processes' pids."),
        "uptime_seconds": serializers.FloatField(allow_null=True),
    },
    many=True,
)
WORKERS = inline_serializer(
    "Workers",
    {
        "status": serializers.ChoiceField(choices=["ok", "down"]),
        "detail": serializers.CharField(),
        "workers": serializers.IntegerField(help_text="Worker processes alive, in all clusters."),
        "clusters": CLUSTERS,
        "queued_jobs": serializers.IntegerField(allow_null=True, help_text="null when the database did not answer."),
        "running_jobs": serializers.IntegerField(allow_null=True),
        "oldest_queued_seconds": serializers.FloatField(allow_null=True, help_text="null when no job waits."),
    },
)


class ProbeView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


def _checks_response(checks: dict[str, dict]) -> Response:
    healthy = all(check["status"] == "ok" for check in checks.values())
    return Response({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)


class HealthView(ProbeView):
    @extend_schema(
        summary="Service health",
        description="Database, broker, FFmpeg, storage and workers; 503 when any is down. For people and "
        "monitoring: load balancers want readiness, which never depends on the workers.",
        responses={200: HEALTH, 503: HEALTH},
    )
    def get(self, request):
        return _checks_response(probes.run_checks(probes.ALL_CHECKS))


class LivenessView(ProbeView):
    @extend_schema(
        summary="Liveness",
        description="200 while the process answers requests; touches nothing else (a liveness probe that "
        "checked dependencies would restart healthy processes during a database outage).",
        responses={200: LIVENESS},
    )
    def get(self, request):
        return Response({"status": "ok"})


class ReadinessView(ProbeView):
    @extend_schema(
        summary="Readiness",
        description="Database, cache and storage: whether this web process can serve requests; 503 when one is "
        "down. Never depends on the workers.",
        responses={200: READINESS, 503: READINESS},
    )
    def get(self, request):
        return _checks_response(probes.run_checks(probes.READINESS_CHECKS))


class WorkersView(ProbeView):
    @extend_schema(
        summary="Workers",
        description="The django-q2 clusters that reported in the last seconds (host, pid, status, worker pids) "
        "and the queue; 503 when no worker runs (or their state cannot be read).",
        responses={200: WORKERS, 503: WORKERS},
    )
    def get(self, request):
        found = probes.gather({"clusters": probes.cluster_stats, "queue": probes.queue_state})
        clusters, queue = found["clusters"], found["queue"]
        if isinstance(queue, Exception):
            queue = dict.fromkeys(("queued_jobs", "running_jobs", "oldest_queued_seconds"))
        if isinstance(clusters, Exception):
            detail, clusters, alive = f"the workers' state cannot be read: {clusters}"[:200], [], 0
        else:
            alive, detail = probes.workers_detail(clusters)
        body = {"status": "ok" if alive else "down", "detail": detail, "workers": alive, "clusters": clusters, **queue}
        return Response(body, status=200 if alive else 503)
