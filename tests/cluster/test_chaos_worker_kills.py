"""100 short jobs while one qcluster is SIGKILLed with everything it started (as when its host dies) every few
seconds and started again: every job succeeds, none is left running, and the attempts of killed runs count.

A killed run is re-queued once its lease lapses, by the next busy worker that looks (each looks at most every
half lease), or by the minutely "recover stale jobs" schedule. The kills stop when nine tenths of the jobs are
done; the time from the last kill to the last job's end is the recovery time."""

import time

import pytest

from scripts.topology import wait_until
from tests.cluster.conftest import all_jobs, upload
from tests.cluster.services import runs_program

pytestmark = pytest.mark.chaos

JOBS = 100
KILL_EVERY = 2.0  # seconds
DEADLINE = 180  # seconds from the first submit to the last job's end (the sweep runs once a minute)


def test_jobs_all_succeed_while_workers_are_killed(cluster, api, short_clip):
    client = api["web-1"]
    asset = upload(client, short_clip)
    body = {"operation": "thumbnail", "input": asset["id"], "params": {"count": 1, "width": 64}}
    started = time.monotonic()
    response = client.post("/api/v1/batches", json={"jobs": [body] * JOBS})
    assert response.status_code in (201, 202), response.text

    kills, mid_job, last_kill = 0, 0, 0.0
    victim = cluster.worker_names[0]
    while True:
        jobs = all_jobs(api["web-2"])[:JOBS]  # newest first: this test's
        unfinished = [job for job in jobs if job["status"] in ("queued", "running")]
        if not unfinished:
            break
        assert time.monotonic() - started < DEADLINE, f"{len(unfinished)} jobs unfinished after {DEADLINE} s"
        succeeded = sum(1 for job in jobs if job["status"] == "succeeded")
        if succeeded < JOBS * 9 // 10 and time.monotonic() - last_kill >= KILL_EVERY:
            # in the middle of a job when it has one within a few seconds (its FFmpeg runs), else as it is
            mid_job += wait_until(lambda: runs_program(cluster.pid(victim), "ffmpeg"), 3, step=0.02)
            cluster.kill(victim)
            cluster.start_worker(victim)
            kills, last_kill = kills + 1, time.monotonic()
        time.sleep(1)
    took, recovery = time.monotonic() - started, time.monotonic() - last_kill

    statuses = {job["status"] for job in jobs}
    attempts = [job["attempts"] for job in jobs]
    retried = sum(1 for n in attempts if n > 1)
    print(
        f"\n[chaos] {len(jobs)} jobs in {took:.1f} s with {kills} worker kills ({mid_job} while FFmpeg ran): "
        f"statuses {sorted(statuses)}, {sum(attempts)} attempts, {retried} jobs run more than once "
        f"(most {max(attempts)}); last job {recovery:.1f} s after the last kill"
    )
    assert statuses == {"succeeded"}, [(job["id"], job["status"], job["error"]) for job in jobs]
    assert all(len(job["outputs"]) == 1 for job in jobs)
    assert kills >= 4
    assert mid_job >= 1
    assert retried >= 1  # the runs killed midway ran again, and their attempts counted
