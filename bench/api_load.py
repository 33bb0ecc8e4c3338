"""The API under load: latency, throughput and errors of the busiest endpoints, and PostgreSQL connections.

Starts its own MediaHub web server (uvicorn, one process, a free port on 127.0.0.1, settings bench.settings:
the real API plus two bare views reading one job row, and rate limits too high to refuse anything), creates a
user, an API key, assets and a finished job, then loads each endpoint in turn with 1, 4, 32 and 256 concurrent
clients (httpx, one keep-alive connection per client, a fixed time per step):

  django     GET /bench/django/{job}    a bare Django view reading one row
  drf        GET /bench/drf/{job}       a bare DRF view reading one row (no authentication, permission, throttle)
  job        GET /api/v1/jobs/{job}     the job as a client polls it (API key, throttle, scope, serializer)
  operations GET /api/v1/operations     the operations catalog
  create     POST /api/v1/jobs          an analyze job (queued on the broker; no worker runs it)

Prints p50/p95/p99 (ms), req/s and errors (non-2xx or no answer) per endpoint and step, the ratios job/drf
(throughput) and create/drf (median time), and the PostgreSQL connections to the bench database during each
step (most seen) and once the load stopped.

Runs on PostgreSQL + Redis (database mh_load_bench, recreated; Redis database 11, emptied) and on the embedded
default (SQLite and the database cache in a temp dir):

    .venv/bin/python bench/api_load.py [--database postgres|sqlite|both] [--seconds 3] [--clients 1,4,32,256]
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POSTGRES = "postgres://postgres@127.0.0.1:5432"
BENCH_DB = "mh_load_bench"
REDIS_URL = "redis://127.0.0.1:6379/11"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database: str, data_dir: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "MEDIAHUB_DATA_DIR": data_dir,
        "MEDIAHUB_MAX_ACTIVE_JOBS_PER_USER": str(10**9),
        "PYTHONPATH": str(ROOT),  # bench.settings, also for this script's own child
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    if database == "postgres":
        env |= {"DATABASE_URL": f"{POSTGRES}/{BENCH_DB}", "REDIS_URL": REDIS_URL}
    return env


def reset_stores(database: str) -> None:
    if database != "postgres":
        return
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    redis.Redis.from_url(REDIS_URL).flushdb()


def drop_stores(database: str) -> None:
    if database != "postgres":
        return
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    redis.Redis.from_url(REDIS_URL).flushdb()


def make_fixtures() -> None:
    """(Run in a child process with the server's environment.) Print the key, an asset and a finished job."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from jobs.models import Asset, Job
    from keys.services import apikey_create

    user = get_user_model().objects.create_user("bench")
    _, secret = apikey_create(owner=user, name="bench", scopes=["read", "write"])
    stream = {"codec_type": "video", "codec_name": "h264", "width": 1280, "height": 720}
    video = {"kind": "video", "duration": 30.0, "width": 1280, "height": 720, "fps": 30.0, "video_codec": "h264"}
    source = Asset.objects.create(
        owner=user, file="bench/source.mp4", storage_name="source.mp4", name="talk.mp4", size=10**7,
        probe={"streams": [stream], "format": {"duration": "30.0"}}, **video,
    )
    job = Job.objects.create(owner=user, operation="transcode", status=Job.Status.SUCCEEDED, progress=100,
                             params={"format": "mp4", "height": 720})
    job.input_links.create(asset=source, role="input", position=0)
    for name in ("talk-720p.mp4", "talk-poster.jpg"):
        Asset.objects.create(owner=user, file=f"bench/{name}", storage_name=name, name=name, size=10**6,
                             source="job", job=job, **video)
    print(json.dumps({"key": secret, "asset": source.id, "job": job.id}))


class ConnectionCounter(threading.Thread):
    """Samples pg_stat_activity for the bench database every 0.1 s; `peak()` is the most seen since reset."""

    def __init__(self):
        super().__init__(daemon=True)
        self.conn = psycopg.connect(f"{POSTGRES}/postgres", autocommit=True)
        self.most, self.stop = 0, threading.Event()

    def count(self) -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        return self.conn.execute(query, [BENCH_DB]).fetchone()[0]

    def run(self):
        while not self.stop.wait(0.1):
            self.most = max(self.most, self.count())

    def peak(self) -> int:
        most, self.most = self.most, 0
        return most


async def load(base: str, endpoint: tuple, clients: int, seconds: float) -> dict:
    method, path, headers, body = endpoint
    latencies, statuses, failures = [], Counter(), 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def one_client():
            nonlocal failures
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    response = await client.request(method, path, json=body)
                except httpx.HTTPError as exc:
                    failures += 1
                    statuses[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")

    errors = failures + sum(n for code, n in statuses.items() if isinstance(code, int) and code >= 300)
    return {
        "n": len(latencies) + failures,
        "errors": errors,
        "statuses": dict(statuses),
        "rps": len(latencies) / elapsed,
        "p50": pct(0.5),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "mean": 1000 * statistics.fmean(latencies) if latencies else float("nan"),
    }


def wait_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see bench/out/api_load-*-server.log")
        try:
            httpx.get(f"{base}/api/v1/operations", timeout=5)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer within 60 s")


def run_one(database: str, clients: list[int], seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="mh-api-load-") as data_dir:
        env = server_env(database, data_dir)
        reset_stores(database)
        manage = [PYTHON, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "createcachetable"], cwd=ROOT, env=env, check=True)
        fixtures = json.loads(
            subprocess.run([PYTHON, __file__, "--fixtures"], cwd=ROOT, env=env, check=True, capture_output=True,
                           text=True).stdout
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [PYTHON, "-m", "uvicorn", "mediahub.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                   "--http", "httptools", "--loop", "uvloop", "--ws", "websockets", "--no-access-log"]
        log = ROOT / "bench" / "out" / f"api_load-{database}-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        counter = ConnectionCounter() if database == "postgres" else None
        try:
            wait_ready(base, server)
            auth = {"Authorization": f"Token {fixtures['key']}"}
            job = fixtures["job"]
            endpoints = {
                "django": ("GET", f"/bench/django/{job}", {}, None),
                "drf": ("GET", f"/bench/drf/{job}", {}, None),
                "job": ("GET", f"/api/v1/jobs/{job}", auth, None),
                "operations": ("GET", "/api/v1/operations", auth, None),
                "create": ("POST", "/api/v1/jobs", auth, {"operation": "analyze", "input": fixtures["asset"]}),
            }
            for endpoint in endpoints.values():  # warm up: imports, first connections
                asyncio.run(load(base, endpoint, 1, 0.3))
            if counter:
                counter.start()
            print(f"\n== {database}: one uvicorn process, {os.cpu_count()} cores, {seconds:g} s per step ==")
            for n in clients:
                print(f"\n{n} concurrent client(s)")
                print(f"  {'endpoint':<11}{'requests':>9}{'errors':>7}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
                      f"{'p99 ms':>9}  pg connections (most)")
                results = {}
                for name, endpoint in endpoints.items():
                    if counter:
                        counter.peak()
                    result = results[name] = asyncio.run(load(base, endpoint, n, seconds))
                    connections = f"{counter.peak():>5}" if counter else "    -"
                    print(f"  {name:<11}{result['n']:>9}{result['errors']:>7}{result['rps']:>9.0f}{result['p50']:>9.1f}"
                          f"{result['p95']:>9.1f}{result['p99']:>9.1f}  {connections}"
                          + (f"  statuses {result['statuses']}" if result["errors"] else ""))
                print(f"  ratios: job/drf throughput {results['job']['rps'] / results['drf']['rps']:.2f}, "
                      f"create/drf time (mean) {results['create']['mean'] / results['drf']['mean']:.2f}, "
                      f"drf/django throughput {results['drf']['rps'] / results['django']['rps']:.2f}")
            if counter:
                time.sleep(2)
                print(f"\npg connections 2 s after the load: {counter.count()}")
            print(f"server log: {log.relative_to(ROOT)}")
        finally:
            if counter:
                counter.stop.set()
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
            if counter:
                counter.conn.close()
            drop_stores(database)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per endpoint and step")
    parser.add_argument("--clients", default="1,4,32,256", help="concurrent clients per step, comma-separated")
    parser.add_argument("--fixtures", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fixtures:
        make_fixtures()
        return
    clients = [int(n) for n in args.clients.split(",")]
    for database in ["postgres", "sqlite"] if args.database == "both" else [args.database]:
        run_one(database, clients, args.seconds)


if __name__ == "__main__":
    main()
