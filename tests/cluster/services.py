"""A PostgreSQL and a Redis of the test's own, in a temp dir on free loopback ports, that it may stop and start
at will (never the machine's own services)."""

import glob
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from scripts.topology import free_port, wait_until


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: apt-get install postgresql")
    return Path(found[-1]).parent


class OwnPostgres:
    """initdb + pg_ctl as the `postgres` OS user when run as root (PostgreSQL refuses to run as root)."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.bin = _postgres_bin()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/mediahub"

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> "OwnPostgres":
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "mediahub")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


class OwnRedis:
    """redis-server in the foreground as the test's child, without persistence (a restart loses every key)."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "OwnRedis":
        self.root.mkdir(parents=True, exist_ok=True)
        command = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(self._answers, 10, step=0.05):
            raise RuntimeError(f"redis-server did not answer on port {self.port}")
        return self

    def _answers(self) -> bool:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, timeout=5, check=False
        )
        return done.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _stat(pid: str) -> tuple[str, list[str]]:
    """(command name, the fields after it) of /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()


def runs_program(pgid: int, program: str) -> bool:
    """True when a live `program` process was started by a process of group `pgid` (FFmpeg runs in a group of
    its own, started by a worker of the qcluster that leads `pgid`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = _stat(entry.name)
            if name != program or fields[0] == "Z":
                continue
            _, parent = _stat(fields[1])
        except (OSError, ValueError):
            continue
        if int(parent[2]) == pgid:
            return True
    return False


def timed(action) -> float:
    """Seconds `action()` took."""
    started = time.monotonic()
    action()
    return time.monotonic() - started
