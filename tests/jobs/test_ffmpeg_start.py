"""FFmpeg starts before the job records its stage, so that write does not delay it; a job cancelled in between
stops its FFmpeg at once, without waiting for a progress tick."""

import time
import uuid

import pytest

from jobs.execution import JobContext
from jobs.ffmpeg.errors import Cancelled
from jobs.ffmpeg.runner import run_ffmpeg
from jobs.models import Job
from tests.workers import live_processes


def generated(marker: str, seconds: int) -> list[str]:
    """`seconds` of generated video at its own pace into the null muxer, tagged with `marker`."""
    source = f"testsrc2=duration={seconds}:size=160x120:rate=25"
    return ["-re", "-f", "lavfi", "-i", source, "-metadata", f"comment={marker}", "-f", "null", "-"]


def test_started_is_called_once_with_ffmpeg_already_launched():
    marker = f"mh-test-{uuid.uuid4().hex}"
    seen: list[list[int]] = []

    def started() -> bool:
        seen.append(live_processes(marker))
        return True

    progress = run_ffmpeg(generated(marker, 1), duration=1, started=started, interval=0.1)

    assert progress.done
    assert len(seen) == 1
    assert seen[0], "started() ran before FFmpeg was launched"


def test_started_refusing_kills_ffmpeg_at_once():
    marker = f"mh-test-{uuid.uuid4().hex}"
    started_at = time.monotonic()
    with pytest.raises(Cancelled):
        run_ffmpeg(generated(marker, 600), duration=600, started=lambda: False, interval=5)
    assert time.monotonic() - started_at < 3, "waited for a progress tick"
    assert live_processes(marker) == []


def test_a_job_cancelled_before_its_ffmpeg_starts_stops_it_at_once(alice, tmp_path, settings):
    settings.MEDIAHUB_PROGRESS_INTERVAL = 5
    job = Job.objects.create(owner=alice[0], operation="transcode", status="running", worker="test:1", stage="starting")
    ctx = JobContext(job, tmp_path)
    Job.objects.filter(id=job.id).update(status="cancelled")  # the owner cancels while the worker prepares
    marker = f"mh-test-{uuid.uuid4().hex}"

    started_at = time.monotonic()
    with pytest.raises(Cancelled):
        ctx.ffmpeg(generated(marker, 600), duration=600, stage="transcoding")

    assert time.monotonic() - started_at < 3
    assert live_processes(marker) == []
    job.refresh_from_db()
    assert (job.status, job.stage) == ("cancelled", "starting")
