"""The production topology on one host, without containers: N web processes (uvicorn, each on its own loopback
port) and M `qcluster` processes on PostgreSQL (DATABASE_URL), the Redis broker (REDIS_URL) and S3 (AWS_*; when
no endpoint is given, moto's S3 server on loopback with the bucket made). `scripts/cluster` is its command line;
the chaos tests drive the same class.

The state dir holds one `<name>.pid` and `<name>.log` per process and `cluster.json` (the environment the
processes were started with and each web process's port), so that `status`, `stop` and a restart of one process
need nothing else. Every process leads its own process group: a SIGKILL of the group is a host or container
dying with everything it started (FFmpeg included)."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from mediahub.management.commands.serve import web_command

ROOT = Path(__file__).resolve().parent.parent
LIVE_PATH = "/api/v1/health/live"
READY_PATH = "/api/v1/health/ready"
DEFAULT_BUCKET = "mediahub"
# moto accepts any credentials; boto3 (here and in every process) reads them from the environment.
MOTO_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout: float = 2) -> int | None:
    """The HTTP status `url` answers with; None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URLs we built)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until(condition, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


@dataclass
class Topology:
    state_dir: Path
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)  # what every process gets on top of os.environ
    web_ports: dict[str, int] = field(default_factory=dict)

    # --- state ---------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, state_dir: Path) -> "Topology":
        topology = cls(Path(state_dir))
        state = topology.state_dir / "cluster.json"
        if state.exists():
            data = json.loads(state.read_text())
            topology.env, topology.web_ports = data["env"], data["web_ports"]
        return topology

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = self.state_dir / "cluster.json"
        state.write_text(json.dumps({"env": self.env, "web_ports": self.web_ports}, indent=2))
        state.chmod(0o600)  # it may hold S3 credentials

    def names(self) -> list[str]:
        return sorted(path.stem for path in self.state_dir.glob("*.pid"))

    def pid(self, name: str) -> int | None:
        try:
            return int((self.state_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.web_ports[name]}"

    @property
    def web_names(self) -> list[str]:
        return sorted(self.web_ports)

    @property
    def worker_names(self) -> list[str]:
        return [name for name in self.names() if name.startswith("worker-")]

    # --- processes -----------------------------------------------------------------------------------------
    def _spawn(self, name: str, command: list[str]) -> int:
        log = open(self.state_dir / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it open)
        with log:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.state_dir / f"{name}.pid").write_text(str(proc.pid))
        return proc.pid

    def manage(self, *args: str, timeout: float = 300) -> str:
        """Run a management command with the cluster's environment; its output."""
        done = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start_web(self, name: str) -> int:
        port = self.web_ports.setdefault(name, free_port())
        self.save()
        # uvicorn exactly as `manage.py serve` runs it, one process per port
        return self._spawn(name, web_command("uvicorn", "127.0.0.1", port, web_workers=1))

    def start_worker(self, name: str) -> int:
        return self._spawn(name, [self.python, "manage.py", "qcluster"])

    def start_s3(self) -> None:
        """moto's S3 server on a loopback port, and the bucket."""
        port = free_port()
        self._spawn("s3", [self.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
        endpoint = f"http://127.0.0.1:{port}"
        if not wait_until(lambda: http_status(endpoint) is not None, 30):
            raise RuntimeError(f"moto's S3 server did not answer at {endpoint}: see {self.state_dir / 's3.log'}")
        bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME") or DEFAULT_BUCKET
        self.env.update(MOTO_ENV, AWS_S3_ENDPOINT_URL=endpoint, AWS_STORAGE_BUCKET_NAME=bucket)
        self.save()
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=MOTO_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=MOTO_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=MOTO_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=bucket)

    def start(self, *, web: int, workers: int, timeout: float = 90) -> None:
        """Migrate, then start the web and worker processes and wait until each web process answers HTTP."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        running = [name for name in self.names() if (pid := self.pid(name)) and alive(pid)]
        if running:
            raise RuntimeError(f"already running in {self.state_dir}: {', '.join(running)} (stop it first)")
        for variable in ("DATABASE_URL", "REDIS_URL"):
            if not (self.env.get(variable) or os.environ.get(variable)):
                raise RuntimeError(f"{variable} is not set: the cluster runs on PostgreSQL and Redis")
        for stale in [*self.state_dir.glob("*.pid"), *self.state_dir.glob("*.log")]:
            stale.unlink()
        self.web_ports = {}
        if not (self.env.get("AWS_S3_ENDPOINT_URL") or os.environ.get("AWS_S3_ENDPOINT_URL")):
            self.start_s3()
        self.save()
        self.manage("migrate", "--noinput", "-v", "0")
        for i in range(1, web + 1):
            self.start_web(f"web-{i}")
        for i in range(1, workers + 1):
            self.start_worker(f"worker-{i}")
        for name in self.web_names:
            pid = self.pid(name)
            if not wait_until(lambda name=name, pid=pid: self.answers(name) or not alive(pid), timeout):
                raise RuntimeError(f"{name} does not answer after {timeout:.0f} s: see {self.state_dir / name}.log")
        for name in [*self.web_names, *self.worker_names]:
            if not alive(self.pid(name)):
                raise RuntimeError(f"{name} exited: see {self.state_dir / name}.log")

    def answers(self, name: str) -> bool:
        """The web process serves HTTP (its liveness answer, whatever the services behind it are doing)."""
        return http_status(self.url(name) + LIVE_PATH) is not None

    def signal(self, name: str, signum: int, *, group: bool = False) -> None:
        pid = self.pid(name)
        if pid is None:
            return
        try:
            if group:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything it started, as when its host dies."""
        pid = self.pid(name)
        self.signal(name, signal.SIGKILL, group=True)
        if pid is not None:
            wait_until(lambda: not alive(pid), 10, step=0.05)

    def stop(self, timeout: float = 30) -> list[str]:
        """SIGTERM every process (qcluster finishes its running tasks), SIGKILL what is left after `timeout`
        seconds. Returns the names that had to be killed."""
        # qcluster is stopped through its parent: a group-wide SIGTERM reaches django-q2's children directly
        # and deadlocks its shutdown.
        names = self.names()
        for name in names:
            self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        killed = []
        for name in names:
            pid = self.pid(name)
            if pid and not wait_until(lambda pid=pid: not alive(pid), max(0.1, deadline - time.monotonic())):
                killed.append(name)
            self.signal(name, signal.SIGKILL, group=True)  # whatever the leader left behind
            (self.state_dir / f"{name}.pid").unlink(missing_ok=True)
        return killed

    def status(self) -> list[dict]:
        rows = []
        for name in self.names():
            pid = self.pid(name)
            row = {"name": name, "pid": pid, "running": bool(pid and alive(pid))}
            if name in self.web_ports:
                row["url"] = self.url(name)
                row["live"] = http_status(row["url"] + LIVE_PATH)
                row["ready"] = http_status(row["url"] + READY_PATH)
            rows.append(row)
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("MEDIAHUB_CLUSTER_DIR", ROOT / "var" / "cluster")),
        help="pid files, logs and cluster.json (default: $MEDIAHUB_CLUSTER_DIR or var/cluster)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="migrate, then start the web and worker processes")
    start.add_argument("--web", type=int, default=2, help="web processes (default 2)")
    start.add_argument("--workers", type=int, default=2, help="qcluster processes (default 2)")
    stop = commands.add_parser("stop", help="SIGTERM every process, SIGKILL what is left after --timeout")
    stop.add_argument("--timeout", type=float, default=30, help="seconds to wait (default 30)")
    commands.add_parser("status", help="each process, and the health of the web processes")
    args = parser.parse_args(argv)

    topology = Topology(args.state_dir) if args.command == "start" else Topology.load(args.state_dir)
    if args.command == "start":
        try:
            topology.start(web=args.web, workers=args.workers)
        except RuntimeError as exc:
            print(f"cluster: {exc}", file=sys.stderr)
            topology.stop()
            return 1
        for name in topology.web_names:
            print(f"{name}: {topology.url(name)}")
        print(f"workers: {', '.join(topology.worker_names)}; logs in {topology.state_dir}")
        return 0
    if args.command == "stop":
        killed = topology.stop(timeout=args.timeout)
        print(f"stopped; killed after {args.timeout:.0f} s: {', '.join(killed)}" if killed else "stopped")
        return 0
    rows = topology.status()
    for row in rows:
        health = f"  live {row['live']}  ready {row['ready']}  {row['url']}" if "url" in row else ""
        print(f"{row['name']:<10} pid {row['pid']!s:<8} {'running' if row['running'] else 'DOWN':<8}{health}")
    if not rows:
        print(f"nothing started in {args.state_dir}")
    return 0 if rows and all(row["running"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
