"""The FFmpeg runner and its progress parser: percent, ETA, failures with codes, cancel and timeout kills."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from jobs.ffmpeg.errors import Cancelled, MediaError
from jobs.ffmpeg.progress import Progress
from jobs.ffmpeg.runner import run_ffmpeg
from tests.workers import live_processes


def feed(progress: Progress, text: str) -> Progress:
    for line in text.strip().splitlines():
        progress.feed(line)
    return progress


# One block of FFmpeg's `-progress` output, as FFmpeg 5 writes it.
BLOCK = """
frame=50
fps=0.00
stream_0_0_q=-1.0
bitrate=N/A
total_size=N/A
out_time_us=2500000
out_time_ms=2500000
out_time=00:00:02.500000
dup_frames=0
drop_frames=0
speed=1.25x
progress=continue
"""


# --- Progress.feed ---------------------------------------------------------------------------------------


def test_progress_reads_out_time_and_speed():
    progress = feed(Progress(duration=10), BLOCK)
    assert progress.out_seconds == 2.5
    assert progress.percent == 25.0
    assert progress.speed == 1.25
    assert progress.done is False


def test_progress_out_time_ms_is_read_as_microseconds():
    # FFmpeg writes out_time_ms in microseconds too (a long-standing misnomer).
    progress = feed(Progress(duration=4), "out_time_ms=1000000")
    assert progress.out_seconds == 1.0
    assert progress.percent == 25.0


def test_progress_never_goes_backwards():
    progress = Progress(duration=10)
    seen = []
    for micros in (1_000_000, 4_000_000, 3_000_000, 0, 6_000_000, 5_999_999):
        progress.feed(f"out_time_us={micros}")
        seen.append(progress.percent)
    assert seen == [10.0, 40.0, 40.0, 40.0, 60.0, 60.0]
    assert progress.out_seconds == 6.0


def test_progress_stays_below_100_until_ffmpeg_says_end():
    progress = Progress(duration=2)
    feed(progress, "out_time_us=2000000\nprogress=continue")
    assert 99 <= progress.percent < 100
    feed(progress, "out_time_us=2400000\nprogress=continue")  # output longer than predicted
    assert 99 <= progress.percent < 100
    assert progress.done is False and progress.eta_seconds is not None and progress.eta_seconds >= 0
    feed(progress, "progress=end")
    assert progress.percent == 100.0
    assert progress.done is True
    assert progress.eta_seconds == 0.0


def test_progress_ignores_values_ffmpeg_does_not_know_yet():
    progress = feed(Progress(duration=10), "out_time_us=3000000\nspeed=2x")
    feed(progress, "out_time_us=N/A\nout_time_ms=N/A\nspeed=N/A\nprogress=continue\ngarbage\n=\nframe=")
    assert progress.percent == 30.0
    assert progress.out_seconds == 3.0
    assert progress.speed is None
    assert progress.done is False


def test_progress_without_a_known_duration_has_no_percent_until_end():
    progress = feed(Progress(duration=None), BLOCK)
    assert progress.percent == 0.0
    assert progress.out_seconds == 2.5
    assert progress.eta_seconds is None
    feed(progress, "progress=end")
    assert progress.percent == 100.0


def test_progress_eta_is_remaining_share_of_elapsed_time():
    progress = Progress(duration=10, started=time.monotonic() - 20)
    feed(progress, "out_time_us=5000000")
    assert progress.eta_seconds == pytest.approx(20, abs=0.5)
    feed(progress, "out_time_us=8000000")
    assert progress.eta_seconds == pytest.approx(5, abs=0.5)


# --- run_ffmpeg ---------------------------------------------------------------------------------------


def ffmpeg_processes(marker: str) -> list[int]:
    """Pids of live FFmpeg processes whose command line holds `marker`."""
    return live_processes(marker, program="ffmpeg")


def endless(marker: str) -> list[str]:
    """Ten minutes of generated video into the null muxer; `marker` tags the process for ffmpeg_processes."""
    return [
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=duration=600:size=160x120:rate=25",
        "-metadata",
        f"comment={marker}",
        "-f",
        "null",
        "-",
    ]


def test_run_ffmpeg_ticks_with_rising_progress_and_ends_at_100():
    seen = []

    def tick(progress: Progress) -> bool:
        seen.append(progress.percent)
        return True

    args = ["-re", "-f", "lavfi", "-i", "testsrc2=duration=1.5:size=160x120:rate=25", "-f", "null", "-"]
    result = run_ffmpeg(args, duration=1.5, tick=tick, interval=0.1)
    assert result.done is True
    assert result.percent == 100.0
    assert result.out_seconds == pytest.approx(1.5, abs=0.05)
    assert len(seen) >= 5, seen
    assert seen == sorted(seen)
    assert any(0 < percent < 100 for percent in seen), seen


def test_run_ffmpeg_writes_the_output_file(tmp_path):
    out = tmp_path / "out.mp4"
    args = ["-f", "lavfi", "-i", "testsrc2=duration=1:size=160x120:rate=25", "-c:v", "libx264", "-preset"]
    run_ffmpeg([*args, "ultrafast", str(out)], duration=1)
    assert out.stat().st_size > 1000


@pytest.fixture
def garbage_file(tmp_path) -> Path:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    return path


@pytest.fixture
def truncated_mp4(tmp_path, clip_path) -> Path:
    path = tmp_path / "truncated.mp4"
    data = clip_path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("which", ["garbage_file", "truncated_mp4"])
def test_run_ffmpeg_raises_corrupt_input_for_unreadable_file(request, which, tmp_path):
    source = request.getfixturevalue(which)
    with pytest.raises(MediaError) as caught:
        run_ffmpeg(["-protocol_whitelist", "file", "-i", str(source), "-f", "null", "-"], duration=2)
    error = caught.value
    assert error.code == "corrupt_input"
    assert error.message and str(source) not in error.message
    assert error.detail  # FFmpeg's own words, for the log tail
    assert error.as_dict()["code"] == "corrupt_input"


def test_run_ffmpeg_reports_a_missing_encoder():
    args = ["-f", "lavfi", "-i", "testsrc2=duration=1", "-c:v", "no_such_codec_x", "-f", "null", "-"]
    with pytest.raises(MediaError) as caught:
        run_ffmpeg(args, duration=1)
    assert caught.value.code == "encoder_missing"
    assert "no_such_codec_x" in caught.value.detail


def test_run_ffmpeg_failure_without_a_known_cause_carries_ffmpeg_last_words():
    args = ["-f", "lavfi", "-i", "testsrc2=duration=1", "-vf", "no_such_filter_x", "-f", "null", "-"]
    with pytest.raises(MediaError) as caught:
        run_ffmpeg(args, duration=1)
    error = caught.value
    assert error.code == "ffmpeg_failed"
    assert error.message == f"FFmpeg failed: {error.detail.strip().splitlines()[-1]}"
    assert "No such filter: 'no_such_filter_x'" in error.detail  # the cause is kept for the job's log tail


def test_run_ffmpeg_refuses_protocols_outside_the_whitelist():
    args = ["-protocol_whitelist", "file", "-i", "http://127.0.0.1:9/video.mp4", "-f", "null", "-"]
    with pytest.raises(MediaError) as caught:
        run_ffmpeg(args, duration=None)
    assert caught.value.code == "protocol_refused", caught.value.detail


def test_tick_returning_false_kills_ffmpeg_and_raises_cancelled_quickly():
    marker = f"mh-test-{uuid.uuid4().hex}"
    stopped_at = {}

    def tick(progress: Progress) -> bool:
        if progress.out_seconds < 0.3:  # let it really run first
            return True
        assert ffmpeg_processes(marker), "FFmpeg should be running while ticks arrive"
        stopped_at["t"] = time.monotonic()
        return False

    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_ffmpeg(endless(marker), duration=600, tick=tick, interval=0.1)
    returned = time.monotonic()
    assert "t" in stopped_at
    assert returned - stopped_at["t"] < 2.0
    assert returned - started < 10
    assert ffmpeg_processes(marker) == []


def test_tick_raising_kills_ffmpeg_and_propagates():
    marker = f"mh-test-{uuid.uuid4().hex}"

    def tick(progress: Progress) -> bool:
        raise RuntimeError("worker shutting down")

    with pytest.raises(RuntimeError, match="worker shutting down"):
        run_ffmpeg(endless(marker), duration=600, tick=tick, interval=0.1)
    assert ffmpeg_processes(marker) == []


def test_timeout_kills_ffmpeg_and_raises_timeout():
    marker = f"mh-test-{uuid.uuid4().hex}"
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        run_ffmpeg(endless(marker), duration=600, timeout=1, interval=0.1)
    elapsed = time.monotonic() - started
    assert caught.value.code == "timeout"
    assert caught.value.message
    assert 1 <= elapsed < 3
    assert ffmpeg_processes(marker) == []


def test_ffmpeg_dies_with_a_killed_worker(tmp_path):
    """A worker killed outright (OOM, SIGKILL) must not leave its FFmpeg encoding beside the re-run."""
    marker = f"orphan-{uuid.uuid4().hex}"
    script = (
        "import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'mediahub.settings'; django.setup()\n"
        "from jobs.ffmpeg.runner import run_ffmpeg\n"
        f"run_ffmpeg({endless(marker)!r}, duration=600, tick=lambda p: True)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 20
        while not ffmpeg_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ffmpeg_processes(marker), "FFmpeg never started"
        worker.kill()
        worker.wait()
        deadline = time.monotonic() + 2
        while ffmpeg_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ffmpeg_processes(marker) == []
    finally:
        worker.kill()
        for pid in ffmpeg_processes(marker):
            os.kill(pid, 9)
