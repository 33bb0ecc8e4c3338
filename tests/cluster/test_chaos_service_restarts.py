"""Redis restarted mid-run (without persistence: the broker's queued tasks are gone), then PostgreSQL: no job is
lost, the web processes answer again within 10 s of each restart, and the same workers finish the jobs unaided."""

import time

import httpx
import pytest

from scripts.topology import alive
from tests.cluster.conftest import all_jobs, upload
from tests.cluster.services import timed

pytestmark = pytest.mark.chaos

JOBS = 30
DEADLINE = 150  # seconds from the first submit to the last job's end
WEB_BACK_WITHIN = 10  # seconds after a service is back


def _succeeded(client: httpx.Client) -> int:
    return sum(1 for job in all_jobs(client) if job["status"] == "succeeded")


def _wait_for_succeeded(client: httpx.Client, count: int, deadline: float) -> None:
    while _succeeded(client) < count:
        assert time.monotonic() < deadline, f"fewer than {count} jobs succeeded in time"
        time.sleep(0.5)


def _web_back(api: dict[str, httpx.Client]) -> float:
    """Seconds until every web process answers an API read again."""
    started = time.monotonic()
    for client in api.values():
        while True:
            try:
                if client.get("/api/v1/jobs", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() - started < WEB_BACK_WITHIN, "a web process did not answer within 10 s"
            time.sleep(0.1)
    return time.monotonic() - started


def test_no_job_is_lost_when_redis_then_postgresql_restart(cluster, api, redis_server, postgres, short_clip):
    client = api["web-1"]
    workers = {name: cluster.pid(name) for name in cluster.worker_names}
    before = len(all_jobs(client))
    asset = upload(client, short_clip)
    body = {"operation": "thumbnail", "input": asset["id"], "params": {"count": 1, "width": 64}}
    started = time.monotonic()
    deadline = started + DEADLINE
    for _ in range(JOBS):
        response = client.post("/api/v1/jobs", json=body)
        assert response.status_code == 202, response.text

    _wait_for_succeeded(client, before + JOBS // 4, deadline)
    redis_down = timed(lambda: (redis_server.stop(), redis_server.start()))
    redis_web = _web_back(api)

    _wait_for_succeeded(client, before + JOBS // 2, deadline)
    postgres_down = timed(lambda: (postgres.stop(), postgres.start()))
    postgres_web = _web_back(api)

    while True:
        ours = all_jobs(client)[:JOBS]  # newest first
        if not any(job["status"] in ("queued", "running") for job in ours):
            break
        assert time.monotonic() < deadline, f"jobs unfinished after {DEADLINE} s: {[j['status'] for j in ours]}"
        time.sleep(1)
    took = time.monotonic() - started
    attempts = [job["attempts"] for job in ours]
    print(
        f"\n[chaos] {JOBS} jobs in {took:.1f} s; Redis restart {redis_down:.1f} s, web back {redis_web:.1f} s later; "
        f"PostgreSQL restart {postgres_down:.1f} s, web back {postgres_web:.1f} s later; "
        f"{sum(attempts)} attempts; statuses {sorted({job['status'] for job in ours})}"
    )
    assert [job["status"] for job in ours] == ["succeeded"] * JOBS, [(j["id"], j["error"]) for j in ours]
    assert all(len(job["outputs"]) == 1 for job in ours)
    # The workers that were running before the restarts finished the jobs: none was restarted.
    assert all(alive(pid) for pid in workers.values())
    assert {name: cluster.pid(name) for name in cluster.worker_names} == workers
