"""A generation's job on a worker thread: cancelling it stops the provider's task; a worker that dies in the
middle of polling is replaced by one that resumes the same task (no second, paid, create)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf

from jobs.models import Job
from jobs.services.jobs import jobs_recover_stale, jobs_run_next
from providers.models import Generation
from tests.jobs.test_job_lifecycle import wait_for

SORA = {"provider": "openai", "model": "sora-2", "prompt": "A kite over dunes", "duration": 4}


def start_worker() -> tuple[threading.Thread, list]:
    crashed: list[BaseException] = []

    def work():
        try:
            jobs_run_next()
        except BaseException as exc:  # noqa: BLE001 (reported by the tests' assertions)
            crashed.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, crashed


def queue_generation(client) -> Generation:
    """Queued on the broker, where no cluster listens: the test plays the worker."""
    Conf.SYNC = False  # the autouse storage fixture restores it
    response = client.post("/api/v1/generations", SORA, format="json")
    assert response.status_code == 202, response.content
    return Generation.objects.get(id=response.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_polling_and_cancels_the_providers_task(alice_api, openai_fake, openai_key):
    openai_fake.polls_to_finish = 10**6
    generation = queue_generation(alice_api)
    thread, crashed = start_worker()
    try:
        assert wait_for(lambda: len(openai_fake.calls("GET", "/v1/videos/")) >= 2, timeout=10), "never polled"
        running = alice_api.get(f"/api/v1/generations/{generation.id}").json()
        assert running["status"] == "processing" and running["stage"] == "generating"

        asked = time.monotonic()
        response = alice_api.post(f"/api/v1/generations/{generation.id}/cancel")
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        thread.join(timeout=5)
        assert not thread.is_alive() and time.monotonic() - asked < 2.0
    finally:
        thread.join(timeout=5)

    assert crashed == []
    task = Generation.objects.get(id=generation.id).provider_task_id
    assert [r.path for r in openai_fake.calls("DELETE", "/v1/videos/")] == [f"/v1/videos/{task}"]
    assert alice_api.post(f"/api/v1/generations/{generation.id}/cancel").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_a_worker_lost_mid_poll_is_replaced_and_the_same_task_resumes(alice_api, openai_fake, openai_key):
    openai_fake.polls_to_finish = 10**6
    generation = queue_generation(alice_api)
    thread, crashed = start_worker()
    try:
        assert wait_for(lambda: len(openai_fake.calls("GET", "/v1/videos/")) >= 2, timeout=10), "never polled"
        # The worker's host vanishes: another worker name holds the job and its lease lapsed. The old thread
        # notices at its next beat that the job is no longer its own and stops, as a dead worker would.
        Job.objects.filter(id=generation.job_id).update(
            worker="lost-host:1", lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        thread.join(timeout=5)
        assert not thread.is_alive()
    finally:
        thread.join(timeout=5)
    assert crashed == []
    task = Generation.objects.get(id=generation.id).provider_task_id
    assert task and openai_fake.calls("DELETE", "/v1/videos/") == []  # a takeover does not cancel the task

    assert jobs_recover_stale() >= 1
    openai_fake.polls_to_finish = 0  # the provider finishes meanwhile
    assert jobs_run_next() == generation.job_id

    shown = alice_api.get(f"/api/v1/generations/{generation.id}").json()
    assert shown["status"] == "completed", shown["error"]
    assert len(openai_fake.calls("POST", "/v1/videos")) == 1  # one task, one charge
    assert Generation.objects.get(id=generation.id).provider_task_id == task
    assert Job.objects.get(id=generation.job_id).attempts == 2
