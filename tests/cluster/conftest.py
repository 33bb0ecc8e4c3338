"""Tests of the production topology: 2 web and 3 worker processes (scripts/cluster's Topology) on a PostgreSQL
and a Redis of the tests' own and moto's S3 server, driven over HTTP like any client.

They run only when their marker is selected (`-m cluster`, `-m chaos`); `bash .ci/run` runs each as its own
step. Everything listens on loopback."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.topology import Topology
from tests.cluster.services import OwnPostgres, OwnRedis
from tests.media import make_clip

SELECTED_ONLY = ("chaos", "cluster")

# Short leases and re-hand-offs, so that lost work comes back within seconds instead of minutes; one job slot
# per qcluster (two cores); room for a job to be killed more than twice (the third kill fails it with
# worker_lost, as it should); limits that a test client firing jobs would otherwise hit.
CLUSTER_ENV = {
    "MEDIAHUB_WORKERS": "1",
    "MEDIAHUB_JOB_LEASE_SECONDS": "5",
    "MEDIAHUB_JOB_MAX_ATTEMPTS": "5",
    "MEDIAHUB_REQUEUE_AFTER_SECONDS": "10",
    "MEDIAHUB_MAX_RUNNING_JOBS_PER_USER": "10",
    "MEDIAHUB_RATE_PER_MINUTE": "1000000",
    "MEDIAHUB_RATE_BURST": "1000000",
    "AWS_STORAGE_BUCKET_NAME": "mediahub-cluster",
    "SECRET_KEY": "cluster-tests-" + "k" * 40,
}


def pytest_collection_modifyitems(config, items):
    expression = config.getoption("markexpr") or ""
    for item in items:
        for marker in SELECTED_ONLY:
            if item.get_closest_marker(marker) and marker not in expression:
                item.add_marker(pytest.mark.skip(reason=f"runs with -m {marker} (its own step in .ci/run)"))


@pytest.fixture(scope="session")
def cluster_root() -> Iterator[Path]:
    """The services' data, the processes' logs (kept with MEDIAHUB_CLUSTER_KEEP=1, and printed at the end)."""
    root = Path(tempfile.mkdtemp(prefix="mediahub-cluster-"))
    root.chmod(0o711)  # the postgres OS user runs its server in a subdir
    yield root
    if os.environ.get("MEDIAHUB_CLUSTER_KEEP") == "1":
        print(f"\nkept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(cluster_root) -> Iterator[OwnPostgres]:
    server = OwnPostgres(cluster_root / "postgres").init()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(cluster_root) -> Iterator[OwnRedis]:
    server = OwnRedis(cluster_root / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cluster(cluster_root, postgres, redis_server) -> Iterator[Topology]:
    """2 web and 3 worker processes, migrated and answering HTTP."""
    topology = Topology(cluster_root / "cluster")
    topology.env = {
        **CLUSTER_ENV,
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis_server.url,
        "MEDIAHUB_DATA_DIR": str(cluster_root / "data"),
    }
    try:
        topology.start(web=2, workers=3)
        yield topology
    finally:
        topology.stop(timeout=20)


@pytest.fixture(scope="session")
def api_key(cluster) -> str:
    return cluster.manage("createapikey", "cluster-tests", "--name", "cluster tests").strip().splitlines()[-1]


@pytest.fixture
def api(cluster, api_key) -> Iterator[dict[str, httpx.Client]]:
    """An HTTP client per web process, authenticated with the same key."""
    clients = {
        name: httpx.Client(base_url=cluster.url(name), headers={"Authorization": f"Token {api_key}"}, timeout=30)
        for name in cluster.web_names
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory) -> Path:
    """1 s, 320×240 H.264 + AAC."""
    return make_clip(tmp_path_factory.mktemp("cluster-media") / "short.mp4", seconds=1)


def upload(client: httpx.Client, path: Path) -> dict:
    with open(path, "rb") as fh:
        response = client.post("/api/v1/assets", files={"file": (path.name, fh, "video/mp4")})
    assert response.status_code == 201, response.text
    return response.json()


def all_jobs(client: httpx.Client) -> list[dict]:
    """Every job of the key's owner, through the paginated list."""
    jobs, url = [], "/api/v1/jobs"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        jobs += page["results"]
        url = page["next"]
    return jobs
