"""GET /api/v1/health: each part MediaHub needs, checked for real; 503 when any is down."""

import shutil

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _broker() -> str:
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        return "redis"
    return "orm"


def _ffmpeg() -> str:
    missing = [tool for tool in (settings.MEDIAHUB_FFMPEG, settings.MEDIAHUB_FFPROBE) if not shutil.which(tool)]
    if missing:
        raise RuntimeError(f"not on PATH: {', '.join(missing)}")
    return "found"


def _storage() -> str:
    default_storage.exists("health")
    return type(default_storage._wrapped).__name__ if hasattr(default_storage, "_wrapped") else "ok"


def _workers() -> str:
    from django_q.status import Stat

    clusters = Stat.get_all()
    workers = sum(len(cluster.workers) for cluster in clusters)
    if not workers:
        raise RuntimeError(f"no worker is running ({len(clusters)} cluster(s))")
    return f"{len(clusters)} cluster(s), {workers} worker(s)"


CHECKS = {"database": _database, "broker": _broker, "ffmpeg": _ffmpeg, "storage": _storage, "workers": _workers}


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []  # load balancers poll it

    @extend_schema(summary="Service health", responses={200: dict, 503: dict})
    def get(self, request):
        checks = {}
        for name, check in CHECKS.items():
            try:
                checks[name] = {"status": "ok", "detail": check()}
            except Exception as exc:  # a health check reports every failure instead of raising it
                checks[name] = {"status": "error", "detail": str(exc)[:200]}
        healthy = all(check["status"] == "ok" for check in checks.values())
        return Response({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)
