"""Checks of the parts MediaHub needs, for the health endpoints and /metrics. Each check runs in its own thread
with a deadline: a hung Redis, database or S3 makes a check fail after MEDIAHUB_HEALTH_TIMEOUT instead of hanging
the probe (and the web process's thread that serves it)."""

import contextvars
import shutil
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.db.models import Count, Min
from django.utils import timezone
from django_q.conf import Conf
from django_q.status import Stat

from jobs.models import Job


class CheckTimeout(Exception):
    pass


class _Attempt(threading.Thread):
    """One call in a daemon thread (with the caller's log context) that closes its own database connection: a
    call that never returns holds neither the caller nor a connection of the caller's."""

    def __init__(self, call: Callable):
        super().__init__(name="mediahub-probe", daemon=True)
        self.call = call
        self.context = contextvars.copy_context()
        self.outcome = None

    def run(self):
        try:
            self.outcome = self.context.run(self.call)
        except Exception as exc:  # handed to the caller as a value
            self.outcome = exc
        finally:
            connections.close_all()


_running: dict[Callable, _Attempt] = {}
_running_lock = threading.Lock()


def _attempt(call: Callable) -> _Attempt:
    """A new attempt of the call, or the one an earlier probe started and is still waiting on: a hung dependency
    holds one thread (and one socket) per process, not one per probe."""
    with _running_lock:
        attempt = _running.get(call)
        if attempt is None or not attempt.is_alive():
            attempt = _running[call] = _Attempt(call)
            attempt.start()
        return attempt


def gather(calls: dict[str, Callable]) -> dict:
    """Run the calls side by side, all within MEDIAHUB_HEALTH_TIMEOUT: each one's result, or the exception it
    raised (CheckTimeout when it had not answered in time)."""
    timeout = settings.MEDIAHUB_HEALTH_TIMEOUT
    attempts = {name: _attempt(call) for name, call in calls.items()}
    deadline = time.monotonic() + timeout
    outcomes = {}
    for name, attempt in attempts.items():
        attempt.join(max(0.0, deadline - time.monotonic()))
        outcomes[name] = CheckTimeout(f"no answer within {timeout:g} s") if attempt.is_alive() else attempt.outcome
    return outcomes


def run_checks(checks: dict[str, Callable[[], str]]) -> dict[str, dict]:
    """{name: {"status": "ok"|"error", "detail": …}} for checks that return a detail or raise what went wrong."""
    return {
        name: {"status": "error", "detail": str(outcome)[:200] or type(outcome).__name__}
        if isinstance(outcome, Exception)
        else {"status": "ok", "detail": outcome}
        for name, outcome in gather(checks).items()
    }


def database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def broker() -> str:
    if settings.REDIS_URL:
        timeout = settings.MEDIAHUB_HEALTH_TIMEOUT
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout).ping()
        return "redis"
    return "orm"


def cache() -> str:
    # A read answers for the connection (and for the database cache's table) without writing.
    caches["default"].get("mediahub:health")
    return type(caches["default"]).__name__


def ffmpeg() -> str:
    missing = [tool for tool in (settings.MEDIAHUB_FFMPEG, settings.MEDIAHUB_FFPROBE) if not shutil.which(tool)]
    if missing:
        raise RuntimeError(f"not on PATH: {', '.join(missing)}")
    return "found"


def storage() -> str:
    default_storage.exists("health")
    return type(default_storage._wrapped).__name__ if hasattr(default_storage, "_wrapped") else "ok"


def cluster_stats() -> list[dict]:
    """The django-q2 clusters that reported in the last few seconds (each saves its Stat every ~3 s)."""
    now = timezone.now()
    return [
        {
            "id": str(stat.cluster_id),
            "host": stat.host,
            "pid": stat.pid,
            "status": str(stat.status),
            "workers": list(stat.workers),
            "uptime_seconds": round((now - stat.tob).total_seconds(), 1) if stat.tob else None,
        }
        for stat in Stat.get_all()
    ]


def alive_workers(clusters: list[dict]) -> int:
    return sum(len(cluster["workers"]) for cluster in clusters if cluster["status"] != str(Conf.STOPPED))


def workers_detail(clusters: list[dict]) -> tuple[int, str]:
    """Workers alive in `clusters`, and what a health answer says of them."""
    alive = alive_workers(clusters)
    if not alive:
        return 0, f"no worker is running ({len(clusters)} cluster(s))"
    return alive, f"{len(clusters)} cluster(s), {alive} worker(s)"


def queue_state() -> dict:
    """Jobs waiting and running, and how long the oldest waiting one has waited."""
    counts = dict(
        Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    oldest = Job.objects.filter(status=Job.Status.QUEUED).aggregate(oldest=Min("created_at"))["oldest"]
    return {
        "queued_jobs": counts.get(Job.Status.QUEUED, 0),
        "running_jobs": counts.get(Job.Status.RUNNING, 0),
        "oldest_queued_seconds": round((timezone.now() - oldest).total_seconds(), 1) if oldest else None,
    }


def workers() -> str:
    alive, detail = workers_detail(cluster_stats())
    if not alive:
        raise RuntimeError(detail)
    return detail


# GET /api/v1/health: everything. Readiness: what a web process needs to serve requests (never the workers, so a
# worker outage does not take every web node out of its load balancer).
ALL_CHECKS = {"database": database, "broker": broker, "ffmpeg": ffmpeg, "storage": storage, "workers": workers}
READINESS_CHECKS = {"database": database, "cache": cache, "storage": storage}
