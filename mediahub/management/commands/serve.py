"""Serve the app (uvicorn: HTTP + WebSocket, request bodies streamed; or daphne) and run the django-q2 cluster
beside it; Ctrl-C or SIGTERM stops both, and if either one dies the other is stopped too."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

APP = "mediahub.asgi:application"


def web_command(server: str, host: str, port: int, web_workers: int) -> list[str]:
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), APP]
    # Proxy headers are handled in the app (MEDIAHUB_TRUSTED_PROXIES), the same under any server; uvicorn's own
    # default would trust X-Forwarded-For from 127.0.0.1. The app has no lifespan events to run. The app logs
    # one access line per request itself (mediahub.access, with the user and request id), so uvicorn's is off.
    return [
        sys.executable, "-m", "uvicorn", APP,
        "--host", host, "--port", str(port), "--workers", str(web_workers),
        "--http", "httptools", "--loop", "uvloop", "--ws", "websockets-sansio",
        "--no-proxy-headers", "--no-access-log", "--lifespan", "off", "--timeout-graceful-shutdown", "10",
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Run the web server and the job workers together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "1")), help="uvicorn processes"
        )
        parser.add_argument("--no-workers", action="store_true", help="Serve only; run qcluster elsewhere.")

    def handle(self, *args, host, port, server, web_workers, no_workers, **options):
        if web_workers < 1 or (server == "daphne" and web_workers != 1):
            raise CommandError("--web-workers must be at least 1 (daphne runs one process).")
        # Every web process writes its request timings to one directory that /metrics sums (prometheus_client's
        # multiprocess mode); the figures of a previous run are dropped.
        metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.DATA_DIR / "prometheus")))
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics_dir.glob("*.db"):
            stale.unlink()
        commands = {"web": web_command(server, host, port, web_workers)}
        if not no_workers:
            commands["workers"] = [sys.executable, "manage.py", "qcluster"]
        # The cluster gets its own process group: a group-wide SIGTERM would reach django-q2's children directly
        # and deadlock its shutdown; it is stopped through its parent below instead.
        procs = {
            name: subprocess.Popen(cmd, process_group=0 if name == "workers" else None)
            for name, cmd in commands.items()
        }
        self.stdout.write(f"MediaHub at http://{host}:{port}/ (API docs: /api/docs/); Ctrl-C stops it.")

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(proc.poll() is None for proc in procs.values()):
            time.sleep(0.3)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        failed = [name for name, proc in procs.items() if proc.returncode not in (0, -signal.SIGTERM, -signal.SIGINT)]
        if failed and not stopping:
            self.stderr.write(f"Stopped because {', '.join(failed)} exited.")
            sys.exit(1)
