"""A small pool of plain worker processes speaking JSON lines (see sphinx_worker): django-q2 runs jobs in daemonic
processes, which may not have multiprocessing children, and the decoders hold the GIL, so threads do not help."""

import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.runner import _die_with_parent, _kill

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[2]  # where `python -m jobs.transcription.…` finds the package
POLL_SECONDS = 0.5  # progress reports (each a heartbeat write) at most this often


class _Worker:
    def __init__(self, module: str, args: list[str], lines: queue.Queue):
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            start_new_session=True,  # its own process group, killed as one
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.task: int | None = None
        self.progress = 0.0
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()

    def _read(self, lines: queue.Queue) -> None:
        for line in self.proc.stdout:
            lines.put((self, line))
        lines.put((self, None))  # end of output: the process exited

    def give(self, index: int | None, task: dict | None) -> None:
        """Send the next task, or close stdin (None) so the worker exits."""
        self.task, self.progress = index, 0.0
        try:
            if task is None:
                self.proc.stdin.close()
            else:
                self.proc.stdin.write(json.dumps(task) + "\n")
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: its end of output reports the failure

    def message(self, line: str) -> dict:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise MediaError("transcription_failed", "The speech decoder answered something that is not JSON.")
        return message

    def failure(self) -> MediaError:
        self.proc.wait()
        self.stderr.seek(0)
        tail = self.stderr.read()[-2000:].decode(errors="replace").strip()
        last = tail.splitlines()[-1] if tail else f"exit code {self.proc.returncode}"
        return MediaError("transcription_failed", f"The speech decoder stopped: {last}", detail=tail)

    def close(self) -> None:
        if self.proc.poll() is None:
            _kill(self.proc)
        self.stderr.close()


def run_pool(
    module: str,
    args: list[str],
    tasks: list[dict],
    *,
    weights: list[float],
    on_progress: Callable[[float], None] | None,
    timeout: float,
    processes: int | None = None,
) -> list[dict]:
    """Run `tasks` on up to `processes` (default: the CPU count) copies of `python -m module *args`, each taking
    the next task when it answers the last; the answers in task order. `on_progress` gets the weighted fraction
    done every POLL_SECONDS and may raise (Cancelled) to stop: every process is killed on the way out."""
    if not tasks:
        return []
    lines: queue.Queue = queue.Queue()
    count = max(1, min(processes or os.cpu_count() or 1, len(tasks)))
    pending = list(range(len(tasks)))
    answers: dict[int, dict] = {}
    total = sum(weights) or 1.0
    deadline = time.monotonic() + timeout
    reported = 0.0
    workers: list[_Worker] = []
    try:
        for _ in range(count):
            workers.append(_Worker(module, args, lines))
            index = pending.pop(0)
            workers[-1].give(index, tasks[index])
        running = len(workers)
        while running:
            try:
                worker, line = lines.get(timeout=POLL_SECONDS)
            except queue.Empty:
                worker, line = None, ""
            if worker is not None and line is None:
                if worker.task is not None:
                    raise worker.failure()
                running -= 1
            elif worker is not None and line.strip():
                message = worker.message(line)
                if "progress" in message:
                    worker.progress = float(message["progress"])
                else:
                    answers[worker.task] = message
                    index = pending.pop(0) if pending else None
                    worker.give(index, tasks[index] if index is not None else None)
            if time.monotonic() > deadline:
                raise MediaError("timeout", f"Transcription ran longer than its {timeout:.0f} s limit.")
            if on_progress is not None and time.monotonic() - reported >= POLL_SECONDS:
                reported = time.monotonic()
                done = sum(weights[i] for i in answers) + sum(
                    weights[w.task] * w.progress for w in workers if w.task is not None
                )
                on_progress(min(1.0, done / total))
    finally:
        for worker in workers:
            worker.close()
    return [answers[index] for index in range(len(tasks))]
