"""Stopping a worker: real `qcluster` processes on the embedded SQLite database, with the ORM broker and with
Redis (when REDIS_URL is set). SIGTERM to a cluster lets its job finish within the grace period or hands it
back, never leaves it running, and a second cluster takes it (and the jobs queued behind it) at once."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.media import make_clip
from tests.workers import live_processes, wait_for

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")

SUBMIT = """
import shutil, tempfile
from pathlib import Path
from django.contrib.auth import get_user_model
from jobs.services.assets import asset_create
from jobs.services.jobs import job_submit
owner, _ = get_user_model().objects.get_or_create(username="alice")
clip, preset, count = Path({clip!r}), {preset!r}, {count!r}
copy = Path(tempfile.mkdtemp()) / clip.name
shutil.copy(clip, copy)
asset = asset_create(owner=owner, path=copy, name=clip.name)
jobs = [job_submit(owner=owner, operation="transcode", inputs=[asset.id], params={{"preset": preset}})[0]
        for _ in range(count)]
print(" ".join(job.id for job in jobs))
"""


class Hub:
    """A private MediaHub data dir (SQLite) whose clusters the test starts and stops."""

    def __init__(self, data_dir: Path, broker: str):
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MEDIAHUB_WORK_DIR")}
        # A queue of its own: clusters of other tests (or other runs) never take these slots.
        self.env.update(MEDIAHUB_DATA_DIR=str(data_dir), Q_CLUSTER_NAME=f"mh-test-{uuid.uuid4().hex[:8]}")
        if broker == "redis":
            self.env["REDIS_URL"] = REDIS_URL
        self.clusters: list[subprocess.Popen] = []

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def submit(self, clip: Path, preset: str, count: int = 1) -> list[str]:
        """Ids of `count` new transcodes of `clip` (the output's last line; log lines come before it)."""
        out = self.manage("shell", "-c", SUBMIT.format(clip=str(clip), preset=preset, count=count))
        return out.strip().splitlines()[-1].split()

    def cluster(self, workers: int, grace: int) -> subprocess.Popen:
        env = {**self.env, "MEDIAHUB_WORKERS": str(workers), "MEDIAHUB_WORKER_STOP_GRACE_SECONDS": str(grace)}
        log = open(self.data_dir / f"cluster-{len(self.clusters)}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.clusters.append(proc)
        return proc

    def job(self, job_id: str) -> dict:
        with sqlite3.connect(self.data_dir / "db.sqlite3", timeout=30) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT status, attempts, worker, error FROM jobs_job WHERE id = ?", [job_id]).fetchone()
        return dict(row)

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in sorted(self.data_dir.glob("*.log")))

    def close(self) -> None:
        for proc in self.clusters:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(params=["orm", pytest.param("redis", marks=pytest.mark.skipif(not REDIS_URL, reason="no REDIS_URL"))])
def hub(request, tmp_path):
    hub = Hub(tmp_path / "data", request.param)
    hub.manage("migrate", "--noinput", "-v", "0")
    hub.manage("createcachetable")
    yield hub
    hub.close()


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory) -> Path:
    """Long enough that a veryslow transcode runs for many seconds on any machine."""
    return make_clip(tmp_path_factory.mktemp("stop-media") / "slow.mp4", seconds=5, size="640x360")


@pytest.fixture(scope="module")
def slower_clip(tmp_path_factory) -> Path:
    """For a job that must outlast another job's whole run, on a machine as busy as CI's."""
    return make_clip(tmp_path_factory.mktemp("stop-media") / "slower.mp4", seconds=30, size="640x360")


def running_on(hub: Hub, job_id: str, proc: subprocess.Popen) -> bool:
    job = hub.job(job_id)
    return job["status"] == "running" and ffmpeg_of(job_id) and proc.poll() is None


def ffmpeg_of(job_id: str) -> list[int]:
    return live_processes(f"/{job_id}-", program="ffmpeg")


def stop(proc: subprocess.Popen, timeout: float) -> float:
    """SIGTERM to the qcluster process alone (as Docker and Kubernetes send it); seconds until it exited."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"qcluster still running {timeout} s after SIGTERM")
    return time.monotonic() - started


def test_sigterm_hands_back_the_running_job_and_another_cluster_takes_it_and_the_queue(hub, slow_clip):
    stale = hub.data_dir / "work" / ("job_" + "z" * 20 + "-x1y2z3")
    (stale / "out").mkdir(parents=True)
    for path in (stale / "out", stale):
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    first = hub.cluster(workers=1, grace=1)
    running, waiting = hub.submit(slow_clip, "veryslow", count=2)

    assert wait_for(lambda: running_on(hub, running, first) or running_on(hub, waiting, first), 60), hub.logs()
    if hub.job(waiting)["status"] == "running":
        running, waiting = waiting, running
    assert not stale.exists(), "a worker sweeps stale scratch folders when it starts"
    assert hub.job(waiting)["status"] == "queued"

    assert stop(first, timeout=20) < 15
    assert hub.job(running) | {"worker": ""} == {"status": "queued", "attempts": 0, "worker": "", "error": None}
    assert ffmpeg_of(running) == []
    assert hub.job(waiting)["status"] == "queued"

    second = hub.cluster(workers=2, grace=20)
    started = time.monotonic()
    assert wait_for(lambda: running_on(hub, running, second) and running_on(hub, waiting, second), 30), hub.logs()
    assert time.monotonic() - started < 15  # a cluster's start included: the slots were in the broker
    assert {hub.job(running)["worker"], hub.job(waiting)["worker"]}.isdisjoint({f"{os.uname().nodename}:{first.pid}"})

    assert wait_for(lambda: hub.job(running)["status"] == hub.job(waiting)["status"] == "succeeded", 240), hub.logs()
    assert hub.job(running)["attempts"] == hub.job(waiting)["attempts"] == 1
    assert stop(second, timeout=30) < 25


def test_sigterm_lets_a_job_that_ends_within_the_grace_period_finish(hub, clip_path):
    cluster = hub.cluster(workers=1, grace=60)
    (job_id,) = hub.submit(clip_path, "medium")
    assert wait_for(lambda: hub.job(job_id)["status"] != "queued", 60), hub.logs()

    stop(cluster, timeout=60)

    job = hub.job(job_id)
    assert (job["status"], job["attempts"], json.loads(job["error"] or "null")) == ("succeeded", 1, None)
    assert not list((hub.data_dir / "work").glob(f"{job_id}-*"))


def test_a_worker_signalled_itself_hands_its_job_back(hub, slow_clip):
    """systemd's default KillMode signals every process of the unit: worker and FFmpeg alike."""
    cluster = hub.cluster(workers=1, grace=1)
    (job_id,) = hub.submit(slow_clip, "veryslow")
    assert wait_for(lambda: running_on(hub, job_id, cluster), 60), hub.logs()
    worker_pid = int(hub.job(job_id)["worker"].rsplit(":", 1)[1])

    ffmpeg = ffmpeg_of(job_id)
    os.killpg(cluster.pid, signal.SIGTERM)  # qcluster, its sentinel, pusher, monitor and workers
    for pid in ffmpeg:  # FFmpeg runs in a session of its own
        os.kill(pid, signal.SIGTERM)

    assert wait_for(lambda: hub.job(job_id)["status"] == "queued", 15), hub.logs()
    assert hub.job(job_id)["attempts"] == 0 and hub.job(job_id)["error"] is None
    assert wait_for(lambda: not live_processes(str(worker_pid)) and ffmpeg_of(job_id) == [], 15)


def test_no_cluster_prefetches_a_slot_while_its_workers_are_busy(hub, slower_clip, clip_path):
    busy = hub.cluster(workers=1, grace=1)
    (long_job,) = hub.submit(slower_clip, "veryslow")
    assert wait_for(lambda: running_on(hub, long_job, busy), 60), hub.logs()
    idle = hub.cluster(workers=1, grace=1)
    time.sleep(3)  # the idle cluster's start
    assert idle.poll() is None

    (short_job,) = hub.submit(clip_path, "ultrafast")

    assert wait_for(lambda: hub.job(short_job)["status"] == "succeeded", 30), hub.logs()
    assert hub.job(short_job)["worker"].rsplit(":", 1)[1] != hub.job(long_job)["worker"].rsplit(":", 1)[1]
    assert hub.job(long_job)["status"] == "running"

