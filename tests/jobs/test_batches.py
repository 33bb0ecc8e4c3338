"""Batches: all-or-nothing validation, one transaction, aggregate status and progress, cancel all, one event."""

import json

import pytest

from jobs.models import Batch, Job, WebhookDelivery
from jobs.queue import enqueue_next


def body(asset_id: str, **params) -> dict:
    return {"operation": "transcode", "input": asset_id, "params": {"preset": "ultrafast", **params}}


def test_a_batch_runs_all_its_jobs_and_reports_the_aggregate(
    alice_api, alice_clip, django_capture_on_commit_callbacks, receiver
):
    jobs = [body(alice_clip["id"], height=120), body(alice_clip["id"], height=96), body(alice_clip["id"])]

    with django_capture_on_commit_callbacks(execute=False):
        created = alice_api.post("/api/v1/batches", {"jobs": jobs, "webhook_url": receiver.url}, format="json")
    assert created.status_code == 202, created.content
    batch = created.json()
    assert batch["id"].startswith("bat_")
    assert (batch["status"], batch["progress"], batch["total"]) == ("queued", 0.0, 3)
    assert batch["counts"]["queued"] == 3
    assert [job["params"].get("height") for job in batch["jobs"]] == [120, 96, None]

    with django_capture_on_commit_callbacks(execute=True):
        enqueue_next(1)  # one worker slot: each finished job hands it on to the next queued one

    done = alice_api.get(f"/api/v1/batches/{batch['id']}").json()
    assert (done["status"], done["progress"], done["counts"]["succeeded"]) == ("succeeded", 100.0, 3)
    assert done["finished_at"]
    assert [job["outputs"][0]["height"] for job in done["jobs"]] == [120, 96, 240]
    events = [json.loads(request.body) for request in receiver.requests]
    assert [event["type"] for event in events] == ["batch.finished"]
    assert events[0]["data"]["id"] == batch["id"]
    assert events[0]["data"]["status"] == "succeeded"
    assert "jobs" not in events[0]["data"]


def test_one_bad_job_rejects_the_whole_batch_naming_index_and_field(alice_api, alice_clip, bob_api, upload, clip_path):
    bobs = upload(bob_api, clip_path)
    jobs = [
        body(alice_clip["id"]),
        body(alice_clip["id"], height=7),
        {"operation": "transcode", "input": bobs["id"]},
        {"operation": "explode", "input": alice_clip["id"]},
        {"input": alice_clip["id"]},
    ]

    response = alice_api.post("/api/v1/batches", {"jobs": jobs}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"jobs.1.params.height", "jobs.2.inputs.0", "jobs.3.operation", "jobs.4.operation"}
    assert not Job.objects.exists()
    assert not Batch.objects.exists()


@pytest.mark.parametrize("count", [0, 1001])
def test_batch_size_is_1_to_1000(alice_api, alice_clip, count):
    response = alice_api.post("/api/v1/batches", {"jobs": [body(alice_clip["id"])] * count}, format="json")

    assert response.status_code == 400
    assert "jobs" in response.json()["error"]["fields"]
    assert not Job.objects.exists()


def test_a_thousand_jobs_are_created_in_one_go(alice_api, alice_clip, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_api.post("/api/v1/batches", {"jobs": [body(alice_clip["id"])] * 1000}, format="json")

    assert response.status_code == 202, response.content[:500]
    assert response.json()["total"] == 1000
    assert Job.objects.filter(batch_id=response.json()["id"], status="queued").count() == 1000
    assert len(callbacks) == 1  # one hand-over to the broker, not a thousand


def test_cancel_stops_every_unfinished_job_and_ends_the_batch_once(
    alice_api, alice_clip, django_capture_on_commit_callbacks, receiver
):
    with django_capture_on_commit_callbacks(execute=False):
        batch = alice_api.post(
            "/api/v1/batches", {"jobs": [body(alice_clip["id"])] * 3, "webhook_url": receiver.url}, format="json"
        ).json()

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"/api/v1/batches/{batch['id']}/cancel")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["counts"]["cancelled"]) == ("cancelled", 3)
    assert response.json()["progress"] == 100.0
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["batch.finished"]
    assert WebhookDelivery.objects.filter(event_type="batch.finished").count() == 1
    again = alice_api.post(f"/api/v1/batches/{batch['id']}/cancel")
    assert again.status_code == 200
    assert len(receiver.requests) == 1


def test_a_failed_job_makes_the_batch_failed(alice_api, alice_clip, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch = alice_api.post(
            "/api/v1/batches", {"jobs": [body(alice_clip["id"]), body(alice_clip["id"], start=60)]}, format="json"
        ).json()

    done = alice_api.get(f"/api/v1/batches/{batch['id']}").json()
    assert done["status"] == "failed"
    assert (done["counts"]["succeeded"], done["counts"]["failed"]) == (1, 1)


def test_batch_idempotency_key_returns_the_first_batch(alice_api, alice_clip, django_capture_on_commit_callbacks):
    payload = {"jobs": [body(alice_clip["id"])]}
    with django_capture_on_commit_callbacks(execute=False):
        first = alice_api.post("/api/v1/batches", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
        second = alice_api.post("/api/v1/batches", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Job.objects.count() == 1


def test_batches_list_shows_summaries(alice_api, alice_clip, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        batch = alice_api.post("/api/v1/batches", {"jobs": [body(alice_clip["id"])]}, format="json").json()

    listed = alice_api.get("/api/v1/batches").json()["results"]

    assert [(b["id"], b["total"], "jobs" in b) for b in listed] == [(batch["id"], 1, False)]
