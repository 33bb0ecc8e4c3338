"""A job run the way a worker runs it, in a thread of the test, so that the test can cancel it midway, and the
processes it starts found by their command lines."""

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import connection

from jobs.services.jobs import jobs_run_next


def live_processes(marker: str, program: str = "") -> list[int]:
    """Pids of live processes (zombies are dead: not counted) other than this one whose command line holds
    `marker` and, when given, starts with `program`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline.startswith(program) and marker in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def wait_for(condition, timeout: float, step: float = 0.05):
    """`condition()`'s first true value within `timeout` seconds (its last value otherwise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(step)
    return condition()


class WorkerThread:
    """`jobs_run_next()` in a daemon thread; what it raised is kept in `crashed` for the test to assert on."""

    def __init__(self):
        self.crashed: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            jobs_run_next()
        except BaseException as exc:  # noqa: BLE001 (reported by the test's assertion)
            self.crashed.append(exc)
        finally:
            connection.close()

    def stopped(self, timeout: float = 5) -> bool:
        self.thread.join(timeout=timeout)
        return not self.thread.is_alive()


@contextlib.contextmanager
def worker_thread(children: Callable[[], list[int]]) -> Iterator[WorkerThread]:
    """A started WorkerThread; on the way out, whatever failed, `children()` (the processes the job started) are
    killed if the worker is still running, so no encoder or decoder outlives the test."""
    worker = WorkerThread()
    worker.thread.start()
    try:
        yield worker
    finally:
        if worker.thread.is_alive():
            for pid in children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            worker.thread.join(timeout=5)
