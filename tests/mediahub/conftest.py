import socket
import threading

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.status import Status

from mediahub import probes


@pytest.fixture
def silent_port():
    """A port on loopback that accepts connections and never answers: a hung Redis or S3."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield server.getsockname()[1]
    server.close()  # resets the connections still waiting: the checks' threads end, and the next test starts anew
    for thread in threading.enumerate():
        if thread.name == "mediahub-probe":
            thread.join(10)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: a Redis or S3 that is down."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


@pytest.fixture
def broken_s3(settings, monkeypatch):
    """broken_s3(port): S3 storage whose endpoint is 127.0.0.1:port (credentials set: no metadata lookups)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)

    def _use(port: int) -> None:
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "mediahub-health", "endpoint_url": f"http://127.0.0.1:{port}"},
            },
        }

    return _use


@pytest.fixture
def running_clusters(monkeypatch):
    """running_clusters(*worker_counts): django-q2 reports these clusters (as its Stat objects), one per count."""

    def _report(*worker_counts: int) -> list[Status]:
        stats = []
        for index, count in enumerate(worker_counts):
            stat = Status(pid=4000 + index, cluster_id=f"cluster-{index}")
            stat.host = f"worker-host-{index}"
            stat.status = Conf.IDLE
            stat.workers = [5000 + 10 * index + n for n in range(count)]
            stat.tob = timezone.now()
            stats.append(stat)
        monkeypatch.setattr(probes.Stat, "get_all", staticmethod(lambda broker=None: stats))
        return stats

    return _report
