"""The one place FFmpeg runs: progress parsing, timeouts, cancel (kills the process group), error tails."""

import collections
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from jobs.ffmpeg.errors import Cancelled, MediaError
from jobs.ffmpeg.progress import Progress

log = logging.getLogger(__name__)

# Added to every run: machine-readable progress on stdout, warnings and errors on stderr.
GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-y", "-v", "warning", "-nostats", "-progress", "pipe:1"]

_KNOWN_ERRORS = [
    ("Invalid data found when processing input", "corrupt_input", "The input is corrupt or not a media file."),
    ("moov atom not found", "corrupt_input", "The input MP4 is truncated (no moov atom)."),
    ("does not contain any stream", "no_streams", "The input has no stream this operation can use."),
    ("matches no streams", "no_streams", "The input has no stream this operation can use."),
    ("Unknown encoder", "encoder_missing", "This FFmpeg build lacks the requested encoder."),
    ("not on whitelist", "protocol_refused", "The input refers to a protocol or format that is not allowed."),
    ("not allowed", "protocol_refused", "The input refers to a protocol or file that is not allowed."),
    ("Protocol not found", "protocol_refused", "The input refers to a protocol that is not allowed."),
]

Tick = Callable[[Progress], bool]
_PR_SET_PDEATHSIG = 1
_PATH = re.compile(r"(?:/[^/\s:'\"]+)+/([^/\s:'\"]+)")


def explain(stderr_tail: str) -> MediaError:
    """A MediaError for FFmpeg's stderr; the message names no server paths (the detail keeps them)."""
    for needle, code, message in _KNOWN_ERRORS:
        if needle in stderr_tail:
            return MediaError(code, message, detail=stderr_tail)
    last = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else "no output"
    last = _PATH.sub(r"\1", last)
    return MediaError("ffmpeg_failed", f"FFmpeg failed: {last}", detail=stderr_tail)


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills FFmpeg if the worker that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# util-linux's setpriv sets the same parent-death signal and execs FFmpeg: a preexec_fn makes Python fork the
# whole worker (10–35 ms of every FFmpeg start), while without one it spawns with vfork (under 1 ms).
_SETPRIV = shutil.which("setpriv") if sys.platform == "linux" else None
_DIE_WITH_PARENT = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_ffmpeg(
    args: list[str],
    *,
    duration: float | None,
    tick: Tick | None = None,
    timeout: float = 3600,
    interval: float = 0.5,
    capture: list[str] | None = None,
    started: Callable[[], bool] | None = None,
) -> Progress:
    """Run `ffmpeg <GLOBAL_ARGS> <args>`; `tick(progress)` is called every `interval` s and returns False to
    cancel. Raises Cancelled, or MediaError with FFmpeg's stderr tail on failure or timeout.

    With `capture`, FFmpeg runs at `-v info` and every stderr line is appended to it: analysis filters
    (silencedetect, ebur128, loudnorm, cropdetect, …) report there. `started()` is called once FFmpeg is
    launched, so that what it records (a stage) does not delay the start; False cancels like `tick`."""
    from django.conf import settings

    global_args = GLOBAL_ARGS if capture is None else [*GLOBAL_ARGS[:3], "-v", "info", *GLOBAL_ARGS[5:]]
    cmd = [settings.MEDIAHUB_FFMPEG, *global_args, *args]
    log.debug("ffmpeg %s", cmd)
    progress = Progress(duration=duration)
    tail: collections.deque[str] = collections.deque(maxlen=40)

    def read_stderr():
        for line in proc.stderr:
            tail.append(line.rstrip())
            if capture is not None:
                capture.append(line.rstrip())

    proc = subprocess.Popen(
        [*_DIE_WITH_PARENT, *cmd],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: a cancel kills FFmpeg and anything it spawned
        preexec_fn=_die_with_parent if sys.platform == "linux" and not _SETPRIV else None,
    )
    readers = [
        threading.Thread(target=lambda: [progress.feed(line) for line in proc.stdout], daemon=True),
        threading.Thread(target=read_stderr, daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    try:
        if started is not None and not started():
            _kill(proc)
            raise Cancelled()
        while True:
            try:
                proc.wait(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                _kill(proc)
                raise MediaError("timeout", f"FFmpeg ran longer than the {timeout:.0f} s limit.")
            if tick is not None and not tick(progress):
                _kill(proc)
                raise Cancelled()
    except BaseException:
        if proc.poll() is None:
            _kill(proc)
        raise
    for reader in readers:
        reader.join(timeout=5)
    if proc.returncode != 0:
        raise explain("\n".join(tail))
    progress.done, progress.percent = True, 100.0
    return progress
