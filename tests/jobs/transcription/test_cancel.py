"""Cancelling a transcribe job while it decodes kills the decoder processes and leaves nothing behind."""

import time

import pytest

from jobs.models import Asset, Job, JobInput
from tests.jobs.transcription.conftest import worker_processes
from tests.workers import wait_for, worker_thread

WORKER = "jobs.transcription.sphinx_worker"


@pytest.mark.django_db(transaction=True)
def test_cancel_kills_the_decoders_and_marks_the_job_cancelled(alice, alice_api, upload, speech, settings):
    audio = upload(alice_api, speech.wav)
    job = Job.objects.create(owner=alice[0], operation="transcribe", params={"language": "en"})
    JobInput.objects.create(job=job, asset_id=audio["id"], position=0)
    decoders = lambda: [pid for pid in worker_processes(job.id) if pid in worker_processes(WORKER)]  # noqa: E731
    with worker_thread(decoders) as worker:
        assert wait_for(decoders, timeout=20), "no decoder process started"
        assert Job.objects.get(id=job.id).stage == "transcribing"

        asked = time.monotonic()
        response = alice_api.post(f"/api/v1/jobs/{job.id}/cancel")
        assert response.status_code == 200, response.content
        assert worker.stopped(timeout=5), "the worker is still running after the cancel"
        assert time.monotonic() - asked < 2.0
        assert decoders() == []

    assert worker.crashed == []
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not Asset.objects.filter(job=job).exists()
    assert list(settings.MEDIAHUB_WORK_DIR.iterdir()) == []
