"""What the health endpoints and /metrics cost, and how they answer when Redis hangs.

Starts its own MediaHub web processes (`manage.py serve --no-workers --web-workers 2`, embedded SQLite, a temp
data dir, a free port) twice: once as is, once with REDIS_URL pointing at a loopback port that accepts connections
and never answers (a hung Redis: cache, broker and cluster stats all behind it). Each time it requests every probe
`--runs` times and prints the status codes and the median and slowest answer in milliseconds.
Run it with `.venv/bin/python bench/health_probes.py [--runs 50]`.
"""

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROBES = ["/api/v1/health/live", "/api/v1/health/ready", "/api/v1/health/workers", "/api/v1/health", "/metrics"]


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


@contextlib.contextmanager
def mediahub(env: dict):
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mediahub-bench-") as data:
        env = {**os.environ, "MEDIAHUB_DATA_DIR": data, "MEDIAHUB_LOG_FORMAT": "json", **env}
        env.pop("DATABASE_URL", None)
        for command in (["migrate", "--noinput", "-v", "0"], ["createcachetable"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)
        serve = [sys.executable, "manage.py", "serve", "--no-workers", "--web-workers", "2", "--port", str(port)]
        with open(Path(data) / "serve.log", "wb") as log:
            process = subprocess.Popen(serve, cwd=ROOT, env=env, stdout=log, stderr=log)
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 60
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(f"{base}/api/v1/health/live", timeout=2).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError("MediaHub did not start")
                    time.sleep(0.3)
                yield base
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


def measure(base: str, runs: int) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for path in PROBES:
            times, statuses = [], set()
            for _ in range(runs):
                started = time.perf_counter()
                statuses.add(client.get(path).status_code)
                times.append((time.perf_counter() - started) * 1000)
            codes = ",".join(str(code) for code in sorted(statuses))
            print(f"  {path:<26} {codes:<8} median {statistics.median(times):8.1f} ms   max {max(times):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    print(f"every probe {args.runs} times; two web processes, no worker")
    print("Redis unused (embedded defaults):")
    with mediahub({}) as base:
        measure(base, args.runs)

    hung = socket.create_server(("127.0.0.1", 0), backlog=512)
    try:
        print("REDIS_URL at a Redis that accepts connections and never answers:")
        with mediahub({"REDIS_URL": f"redis://127.0.0.1:{hung.getsockname()[1]}/0"}) as base:
            measure(base, max(3, args.runs // 10))
    finally:
        hung.close()


if __name__ == "__main__":
    main()
