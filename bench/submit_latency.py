"""Submit → FFmpeg started, on the production stack: a uvicorn web process and a qcluster on PostgreSQL + Redis.

Uploads a 2 s clip, then submits N short transcodes one at a time (each after the last finished, so the
workers are idle) and times, per job:

  answered   POST /api/v1/jobs sent → its 202 received (client clock)
  claimed    POST sent → the job's started_at (set when a worker claims it: broker hand-over included)
  ffmpeg     POST sent → the FFmpeg process started, as the kernel recorded it (/proc/<pid>/stat starttime,
             found by the job id in its arguments): when the worker forked it
  exec'd     POST sent → first seen running FFmpeg's program by a /proc scan every 5 ms: an upper bound of
             its exec, which a worker that forks itself whole (a preexec_fn) delays by tens of ms
  finished   POST sent → the job's finished_at (server clock; outputs stored)

Prints p50/p95 of each. Uses its own PostgreSQL database (mh_latency_bench, dropped at the end) and Redis db 13.

    .venv/bin/python bench/submit_latency.py [--jobs 30]
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATABASE = "mh_latency_bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TICK = os.sysconf("SC_CLK_TCK")


def boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FFmpegStarts(threading.Thread):
    """Every FFmpeg process that runs a job, by job id: its start (boottime seconds) as the kernel recorded it,
    and when this scan first saw it running FFmpeg."""

    def __init__(self):
        super().__init__(daemon=True)
        self.starts: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        seen: set[int] = set()
        while not self.stop.is_set():
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or int(entry) in seen:
                    continue
                try:
                    argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                started = int(fields[19]) / TICK
                if not argv[0].endswith(b"ffmpeg"):
                    if boottime() - started > 1:  # a fresh child may not have exec'd FFmpeg yet: look again
                        seen.add(int(entry))
                    continue
                seen.add(int(entry))
                for arg in argv:
                    if b"/job_" in arg:
                        job_id = arg.split(b"/job_", 1)[1][:20].decode()
                        self.starts.setdefault(f"job_{job_id}", started)
                        self.seen.setdefault(f"job_{job_id}", boottime())
            time.sleep(0.005)


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def recreate_database(drop_only: bool = False) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if not drop_only:
            db.execute(f"CREATE DATABASE {DATABASE}")


def start(env: dict, log: Path, *command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, *command],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=open(log, "wb"),  # noqa: SIM115 (the process writes it until the end)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def percentiles(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=30)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mediahub-latency-"))
    port = free_port()
    unset = ("MEDIA_ROOT", "MEDIAHUB_WORK_DIR", "AWS_STORAGE_BUCKET_NAME")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        MEDIAHUB_DATA_DIR=str(workdir / "data"),
        MEDIAHUB_ENV="development",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL=REDIS_URL,
        LOG_LEVEL="WARNING",
        MEDIAHUB_RATE_PER_MINUTE="1000000",  # the status polling is the bench's, not a client's
        MEDIAHUB_RATE_BURST="1000000",
    )
    recreate_database()
    manage(env, "migrate", "--noinput", "-v", "0")
    key = manage(env, "createapikey", "bench", "--name", "bench").strip().splitlines()[-1]
    clip = workdir / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
         "-f", "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(clip)],
        check=True,
    )  # fmt: skip

    web = start(env, workdir / "web.log", "-m", "uvicorn", "mediahub.asgi:application", "--http", "httptools",
                "--loop", "uvloop", "--host", "127.0.0.1", "--port", str(port))  # fmt: skip
    cluster = start(env, workdir / "cluster.log", "manage.py", "qcluster")
    watch = FFmpegStarts()
    watch.start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                health = client.get("/api/v1/health").json()
                if health.get("checks", {}).get("workers", {}).get("ok", health.get("status") == "ok"):
                    break
            time.sleep(0.3)
        time.sleep(2)  # the cluster's workers up and waiting
        with clip.open("rb") as fh:
            asset = client.post("/api/v1/assets", files={"file": ("clip.mp4", fh, "video/mp4")}).json()["id"]
        rows = []
        for i in range(args.jobs + 1):
            body = {"operation": "transcode", "input": asset, "params": {"preset": "ultrafast"}}
            sent, sent_wall = boottime(), time.time()
            response = client.post("/api/v1/jobs", json=body)
            answered = boottime()
            assert response.status_code == 202, response.text
            job_id = response.json()["id"]
            while (job := client.get(f"/api/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
                time.sleep(0.02)
            assert job["status"] == "succeeded", job
            if i == 0:
                continue  # warm-up: first imports and connections of each process
            rows.append(
                {
                    "answered": answered - sent,
                    "claimed": epoch(job["started_at"]) - sent_wall,
                    "ffmpeg": watch.starts[job_id] - sent,
                    "exec'd": watch.seen[job_id] - sent,
                    "finished": epoch(job["finished_at"]) - sent_wall,
                }
            )
            time.sleep(0.3)  # the worker back to waiting on the broker
        print(f"{len(rows)} transcodes of a 2 s 320x240 clip, one at a time, idle workers (uvicorn + qcluster, "
              f"PostgreSQL + Redis); from the POST sent:")  # fmt: skip
        for name in ("answered", "claimed", "ffmpeg", "exec'd", "finished"):
            print(f"  {name:9} {percentiles([row[name] for row in rows])}")
        claim_to_ffmpeg = [row["ffmpeg"] - row["claimed"] for row in rows]
        answer_to_claim = [row["claimed"] - row["answered"] for row in rows]
        print("where the time goes:")
        print(f"  answered → claimed (commit, broker, pusher, worker)  {percentiles(answer_to_claim)}")
        print(f"  claimed → FFmpeg started (inputs, command)           {percentiles(claim_to_ffmpeg)}")
    finally:
        watch.stop.set()
        stop(web)
        stop(cluster)
        recreate_database(drop_only=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
