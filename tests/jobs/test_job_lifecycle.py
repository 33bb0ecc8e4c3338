"""A job's life through the API and the services: progress, cancel, crash recovery, retry, idempotency, lists."""

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs.models import Asset, Job, JobInput
from jobs.operations.transcode import TranscodeParams
from jobs.realtime import JobEvents
from jobs.services.jobs import jobs_recover_stale
from tests.jobs.test_runner import ffmpeg_processes
from tests.workers import wait_for, worker_thread

FAST = {"preset": "ultrafast", "width": 160}


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    """submit(client, body, **headers) → (response, queued callbacks): the job is queued but not run yet."""

    def _submit(client, body: dict, **headers):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = client.post("/api/v1/jobs", body, format="json", headers=headers)
        return response, callbacks

    return _submit


def transcode_body(asset_id: str, **params) -> dict:
    return {"operation": "transcode", "input": asset_id, "params": {**FAST, **params}}


def get_job(client, job_id: str) -> dict:
    response = client.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200, response.content
    return response.json()


# --- progress ---------------------------------------------------------------------------------------------


def test_progress_reported_during_a_run_rises_to_100(alice_api, upload, run_job, long_clip_path, monkeypatch, settings):
    settings.MEDIAHUB_PROGRESS_INTERVAL = 0.05
    seen: list[tuple[str, float, float | None]] = []
    original = JobEvents.changed

    def record(job):
        seen.append((job.status, job.progress, job.eta_seconds))
        original(job)

    monkeypatch.setattr(JobEvents, "changed", staticmethod(record))
    asset = upload(alice_api, long_clip_path)
    # ~1.5 s of encoding: FFmpeg reports progress every 0.5 s, so several reports arrive mid-run.
    job = run_job(alice_api, transcode_body(asset["id"], width=320, preset="faster"))

    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    progress = [value for _, value, _ in seen]
    assert seen[0][:2] == ("running", 0)
    assert seen[-1][:2] == ("succeeded", 100)
    assert progress == sorted(progress), progress
    assert all(0 <= value <= 100 for value in progress)
    midway = {value for status, value, _ in seen if status == "running" and 0 < value < 100}
    assert len(midway) >= 2, seen
    assert any(eta is not None and eta > 0 for status, _, eta in seen if status == "running"), seen


# --- cancel -----------------------------------------------------------------------------------------------


def test_cancel_of_queued_job_marks_it_cancelled_and_it_never_runs(alice_api, alice_clip, submit):
    response, queued = submit(alice_api, transcode_body(alice_clip["id"]))
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    job_id = response.json()["id"]

    cancelled = alice_api.post(f"/api/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None

    assert len(queued) == 1
    for task in queued:  # the queue delivers the task after all
        task()
    job = get_job(alice_api, job_id)
    assert job["status"] == "cancelled"
    assert job["attempts"] == 0
    assert job["started_at"] is None
    assert job["outputs"] == []
    assert not Asset.objects.filter(source="job").exists()


def test_cancel_of_finished_job_is_409(alice_api, alice_clip, run_job):
    job = run_job(alice_api, transcode_body(alice_clip["id"]))
    assert job["status"] == "succeeded"
    response = alice_api.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_finished"
    assert get_job(alice_api, job["id"])["status"] == "succeeded"


def test_other_users_cannot_cancel_or_retry_a_job(alice_api, bob_api, alice_clip, submit):
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    job_id = response.json()["id"]
    for action in ("cancel", "retry"):
        other = bob_api.post(f"/api/v1/jobs/{job_id}/{action}")
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "not_found"
    assert get_job(alice_api, job_id)["status"] == "queued"


def queued_job(owner, asset_id: str, params: dict) -> Job:
    """A validated transcode job row, queued but handed to no queue (the test plays the worker)."""
    job = Job.objects.create(
        owner=owner,
        operation="transcode",
        params=TranscodeParams.model_validate(params).model_dump(exclude_none=True, mode="json"),
    )
    JobInput.objects.create(job=job, asset_id=asset_id, position=0)
    return job


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_ffmpeg_and_marks_job_cancelled(alice, alice_api, upload, long_clip_path, settings):
    asset = upload(alice_api, long_clip_path)
    job = queued_job(alice[0], asset["id"], {"format": "webm", "video_codec": "vp9", "preset": "veryslow"})
    with worker_thread(lambda: ffmpeg_processes(job.id)) as worker:
        assert wait_for(lambda: ffmpeg_processes(job.id), timeout=20), "FFmpeg never started"
        assert wait_for(lambda: Job.objects.get(id=job.id).stage == "transcoding", timeout=5)
        time.sleep(0.5)  # let it encode for a moment

        asked = time.monotonic()
        response = alice_api.post(f"/api/v1/jobs/{job.id}/cancel")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "cancelled"
        assert worker.stopped(timeout=5), "the worker is still running after the cancel"
        stopped = time.monotonic() - asked
        assert stopped < 2.0, f"the worker took {stopped:.2f} s to stop"
        assert ffmpeg_processes(job.id) == []

    assert worker.crashed == []
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not Asset.objects.filter(job=job).exists()
    assert list(settings.MEDIAHUB_WORK_DIR.iterdir()) == []  # the work dir went with it
    shown = get_job(alice_api, job.id)
    assert shown["status"] == "cancelled"
    assert shown["outputs"] == []
    assert shown["finished_at"] is not None


# --- crash recovery -----------------------------------------------------------------------------------------


def orphan(job_id: str, *, attempts: int, lease_expires_in: float) -> None:
    """Make the job look like its worker died mid-run (or still holds it, for a lease in the future)."""
    now = timezone.now()
    Job.objects.filter(id=job_id).update(
        status="running",
        attempts=attempts,
        worker="dead-host:4242",
        started_at=now - timedelta(minutes=5),
        lease_expires_at=now + timedelta(seconds=lease_expires_in),
        progress=40,
        stage="transcoding",
    )


def test_job_of_dead_worker_is_requeued_and_runs_again(
    alice_api, alice_clip, submit, django_capture_on_commit_callbacks
):
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    job_id = response.json()["id"]
    orphan(job_id, attempts=1, lease_expires_in=-1)

    with django_capture_on_commit_callbacks(execute=True):
        recovered = jobs_recover_stale()

    assert recovered == 1
    job = get_job(alice_api, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    assert job["progress"] == 100
    assert job["error"] is None
    assert len(job["outputs"]) == 1


def test_a_busy_worker_takes_up_a_job_whose_worker_died_without_waiting_for_the_schedule(
    alice_api, alice_clip, submit, run_job, monkeypatch
):
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    lost = response.json()["id"]
    orphan(lost, attempts=1, lease_expires_in=-1)
    monkeypatch.setattr("jobs.services.jobs._last_recovery", float("-inf"))  # this process has not looked yet

    other = run_job(alice_api, transcode_body(alice_clip["id"]))

    assert other["status"] == "succeeded", other["error"]
    job = get_job(alice_api, lost)
    assert (job["status"], job["attempts"]) == ("succeeded", 2), job["error"]


def test_job_still_queued_after_the_requeue_delay_is_handed_to_the_broker_again(
    alice_api, alice_clip, submit, django_capture_on_commit_callbacks, settings
):
    # Submitted, but its task never ran (as when a broker restarts without persistence).
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    job_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_recover_stale() == 0  # not waiting long enough yet
    assert get_job(alice_api, job_id)["status"] == "queued"

    Job.objects.filter(id=job_id).update(
        enqueued_at=timezone.now() - timedelta(seconds=settings.MEDIAHUB_REQUEUE_AFTER_SECONDS + 1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_recover_stale() == 1

    job = get_job(alice_api, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1


def test_job_with_live_lease_is_left_to_its_worker(alice_api, alice_clip, submit, django_capture_on_commit_callbacks):
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    job_id = response.json()["id"]
    orphan(job_id, attempts=1, lease_expires_in=30)

    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        assert jobs_recover_stale() == 0
    assert enqueued == []
    job = get_job(alice_api, job_id)
    assert (job["status"], job["attempts"], job["progress"]) == ("running", 1, 40)


def test_job_of_dead_worker_fails_with_worker_lost_after_max_attempts(
    alice_api, alice_clip, submit, django_capture_on_commit_callbacks
):
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    job_id = response.json()["id"]
    max_attempts = Job.objects.get(id=job_id).max_attempts
    orphan(job_id, attempts=max_attempts, lease_expires_in=-1)

    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        assert jobs_recover_stale() == 0
    assert enqueued == []
    job = get_job(alice_api, job_id)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "worker_lost"
    assert job["error"]["message"]
    assert job["attempts"] == max_attempts
    assert job["outputs"] == []
    assert job["finished_at"] is not None
    assert job["updated_at"] >= job["finished_at"], "updated_at must move with the status change"


# --- retry --------------------------------------------------------------------------------------------------


def test_retry_of_failed_job_runs_it_again(alice_api, alice_clip, run_job, django_capture_on_commit_callbacks):
    stored = Path(Asset.objects.get(id=alice_clip["id"]).file.path)
    aside = stored.with_suffix(".aside")
    stored.rename(aside)  # the input is unreadable for the first run only
    failed = run_job(alice_api, transcode_body(alice_clip["id"]))
    assert failed["status"] == "failed"
    assert failed["error"]["code"]
    aside.rename(stored)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"/api/v1/jobs/{failed['id']}/retry")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["error"] is None

    job = get_job(alice_api, failed["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1  # a retry starts a fresh attempt count
    assert job["error"] is None
    assert len(job["outputs"]) == 1
    assert Job.objects.count() == 1


def test_retry_of_cancelled_job_runs_it(alice_api, alice_clip, submit, django_capture_on_commit_callbacks):
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    job_id = response.json()["id"]
    assert alice_api.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        retried = alice_api.post(f"/api/v1/jobs/{job_id}/retry")
    assert retried.status_code == 202
    job = get_job(alice_api, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert len(job["outputs"]) == 1


def test_retry_of_succeeded_job_is_409(alice_api, alice_clip, run_job, django_capture_on_commit_callbacks):
    job = run_job(alice_api, transcode_body(alice_clip["id"]))
    assert job["status"] == "succeeded"
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        response = alice_api.post(f"/api/v1/jobs/{job['id']}/retry")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_retryable"
    assert error["message"]
    assert enqueued == []
    after = get_job(alice_api, job["id"])
    assert (after["status"], after["attempts"], len(after["outputs"])) == ("succeeded", 1, 1)


def test_retry_of_queued_job_is_409(alice_api, alice_clip, submit):
    response, _ = submit(alice_api, transcode_body(alice_clip["id"]))
    retried = alice_api.post(f"/api/v1/jobs/{response.json()['id']}/retry")
    assert retried.status_code == 409
    assert retried.json()["error"]["code"] == "not_retryable"


# --- idempotency --------------------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_return_the_first_job(alice_api, alice_clip, submit):
    body = transcode_body(alice_clip["id"])
    first, queued = submit(alice_api, body, **{"Idempotency-Key": "upload-42"})
    assert first.status_code == 202
    again, queued_again = submit(alice_api, body, **{"Idempotency-Key": "upload-42"})
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert len(queued) == 1 and queued_again == []  # nothing enqueued twice
    assert Job.objects.count() == 1


def test_same_idempotency_key_with_other_body_is_409(alice_api, alice_clip, submit):
    first, _ = submit(alice_api, transcode_body(alice_clip["id"]), **{"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    other, queued = submit(alice_api, transcode_body(alice_clip["id"], fps=10), **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert queued == []
    assert Job.objects.count() == 1


def test_idempotency_keys_belong_to_one_user(alice_api, bob_api, alice_clip, upload, clip_path, submit):
    mine, _ = submit(alice_api, transcode_body(alice_clip["id"]), **{"Idempotency-Key": "shared"})
    bob_clip = upload(bob_api, clip_path)
    theirs, _ = submit(bob_api, transcode_body(bob_clip["id"]), **{"Idempotency-Key": "shared"})
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]


def test_without_idempotency_key_each_post_is_a_new_job(alice_api, alice_clip, submit):
    body = transcode_body(alice_clip["id"])
    ids = {submit(alice_api, body)[0].json()["id"] for _ in range(2)}
    assert len(ids) == 2


# --- listing ------------------------------------------------------------------------------------------------


def test_list_filters_by_status_and_operation(alice_api, bob_api, alice_clip, submit):
    ids = [submit(alice_api, transcode_body(alice_clip["id"], fps=fps))[0].json()["id"] for fps in (10, 12, 15)]
    assert alice_api.post(f"/api/v1/jobs/{ids[1]}/cancel").status_code == 200

    def listed(query: str, client=alice_api) -> list[str]:
        response = client.get(f"/api/v1/jobs{query}")
        assert response.status_code == 200
        return [job["id"] for job in response.json()["results"]]

    assert listed("?status=cancelled") == [ids[1]]
    assert listed("?status=queued") == [ids[2], ids[0]]
    assert listed("?status=succeeded") == []
    assert listed("?operation=transcode") == ids[::-1]
    assert listed("?operation=thumbnail") == []
    assert listed("?operation=transcode&status=queued") == [ids[2], ids[0]]
    assert listed("") == ids[::-1]
    assert listed("", client=bob_api) == []


def test_list_is_cursor_paginated_newest_first(alice_api, alice_clip, submit):
    ids = [submit(alice_api, transcode_body(alice_clip["id"], fps=fps))[0].json()["id"] for fps in (10, 12, 15)]
    for job_id in ids[:2]:
        Job.objects.filter(id=job_id).update(status="cancelled")

    first = alice_api.get("/api/v1/jobs?limit=2").json()
    assert set(first) == {"results", "next", "previous"}
    assert [job["id"] for job in first["results"]] == [ids[2], ids[1]]
    assert first["previous"] is None and first["next"]

    second = alice_api.get(first["next"]).json()
    assert [job["id"] for job in second["results"]] == [ids[0]]
    assert second["next"] is None and second["previous"]
    back = alice_api.get(second["previous"]).json()
    assert [job["id"] for job in back["results"]] == [ids[2], ids[1]]

    # Filters survive in the page links.
    page = alice_api.get("/api/v1/jobs?status=cancelled&limit=1").json()
    assert [job["id"] for job in page["results"]] == [ids[1]]
    assert "status=cancelled" in page["next"]
    rest = alice_api.get(page["next"]).json()
    assert [job["id"] for job in rest["results"]] == [ids[0]]
    assert rest["next"] is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_with_one_idempotency_key_make_one_job(alice, upload, alice_api, clip_path):
    from django.db import connection as thread_connection

    from jobs.services.jobs import job_submit

    asset = upload(alice_api, clip_path)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def submit_once():
        try:
            barrier.wait()
            job, _ = job_submit(
                owner=alice[0], operation="transcode", inputs=[asset["id"]], params={}, idempotency_key="race"
            )
            results.append(job.id)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=submit_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    assert Job.objects.filter(owner=alice[0], idempotency_key="race").count() == 1
