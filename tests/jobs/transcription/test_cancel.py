"""Cancelling a transcribe job while it decodes kills the decoder processes and leaves nothing behind."""

import contextlib
import os
import signal
import threading
import time

import pytest
from django.db import connection

from jobs.models import Asset, Job, JobInput
from jobs.services.jobs import jobs_run_next
from tests.jobs.transcription.conftest import worker_processes

WORKER = "jobs.transcription.sphinx_worker"


def wait_for(condition, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(step)
    return condition()


@pytest.mark.django_db(transaction=True)
def test_cancel_kills_the_decoders_and_marks_the_job_cancelled(alice, alice_api, upload, speech, settings):
    audio = upload(alice_api, speech.wav)
    job = Job.objects.create(owner=alice[0], operation="transcribe", params={"language": "en"})
    JobInput.objects.create(job=job, asset_id=audio["id"], position=0)
    decoders = lambda: [pid for pid in worker_processes(job.id) if pid in worker_processes(WORKER)]  # noqa: E731
    crashed: list[BaseException] = []

    def worker():
        try:
            jobs_run_next()
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            crashed.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        assert wait_for(decoders, timeout=20), "no decoder process started"
        assert Job.objects.get(id=job.id).stage == "transcribing"

        asked = time.monotonic()
        response = alice_api.post(f"/api/v1/jobs/{job.id}/cancel")
        assert response.status_code == 200, response.content
        thread.join(timeout=5)
        assert not thread.is_alive(), "the worker is still running after the cancel"
        assert time.monotonic() - asked < 2.0
        assert decoders() == []
    finally:
        if thread.is_alive():
            for pid in decoders():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            thread.join(timeout=5)

    assert crashed == []
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not Asset.objects.filter(job=job).exists()
    assert list(settings.MEDIAHUB_WORK_DIR.iterdir()) == []
