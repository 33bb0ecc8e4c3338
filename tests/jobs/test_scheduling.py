"""Which queued job starts next: priority, then the owner with fewest running jobs, then age; per-user cap."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from jobs.models import Job
from jobs.services.scheduling import job_claim_next


@pytest.fixture
def carol(db):
    return get_user_model().objects.create_user("carol")


def queue(owner, count: int = 1, priority: int = 0) -> list[Job]:
    return [Job.objects.create(owner=owner, operation="transcode", priority=priority) for _ in range(count)]


def claim_order(limit: int = 20) -> list[Job]:
    claimed = []
    for _ in range(limit):
        job = job_claim_next(worker="test:1")
        if job is None:
            break
        claimed.append(job)
    return claimed


def test_higher_priority_starts_first_then_the_oldest(alice, settings):
    settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER = 10
    (low_old,) = queue(alice[0], priority=0)
    (high,) = queue(alice[0], priority=9)
    (mid,) = queue(alice[0], priority=5)
    (low_new,) = queue(alice[0], priority=0)

    assert [job.id for job in claim_order()] == [high.id, mid.id, low_old.id, low_new.id]
    assert set(Job.objects.values_list("status", flat=True)) == {"running"}


def test_one_users_big_batch_does_not_starve_another_users_single_job(alice, bob, settings):
    settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER = 2
    alices = queue(alice[0], count=50)
    (bobs,) = queue(bob[0])  # queued after all of Alice's

    first, second, third = claim_order()

    assert first.id == alices[0].id
    assert second.id == bobs.id  # Bob has nothing running, so he goes before Alice's second job
    assert third.id == alices[1].id
    assert job_claim_next(worker="test:1") is None  # Alice is at her cap of 2; Bob has nothing queued


def test_the_cap_releases_when_a_running_job_finishes(alice, settings):
    settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER = 1
    first, second = queue(alice[0], count=2)

    assert job_claim_next(worker="test:1").id == first.id
    assert job_claim_next(worker="test:1") is None
    Job.objects.filter(id=first.id).update(status=Job.Status.SUCCEEDED)
    assert job_claim_next(worker="test:1").id == second.id


def test_priority_applies_across_users_within_their_caps(alice, bob, carol, settings):
    settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER = 1
    queue(alice[0], count=3, priority=1)
    (urgent,) = queue(bob[0], priority=9)
    (normal,) = queue(carol, priority=0)

    order = [job.owner_id for job in claim_order()]

    assert order == [bob[0].id, alice[0].id, carol.id]
    assert Job.objects.get(id=urgent.id).status == "running"
    assert Job.objects.get(id=normal.id).status == "running"


def test_cancelled_and_finished_jobs_are_never_claimed(alice):
    cancelled, done = queue(alice[0], count=2)
    Job.objects.filter(id=cancelled.id).update(status=Job.Status.CANCELLED)
    Job.objects.filter(id=done.id).update(status=Job.Status.SUCCEEDED)

    assert job_claim_next(worker="test:1") is None


def test_priority_out_of_range_is_refused(alice_api, upload, clip_path):
    asset = upload(alice_api, clip_path)

    response = alice_api.post("/api/v1/jobs", {"operation": "transcode", "input": asset["id"], "priority": 10})

    assert response.status_code == 400
    assert "priority" in response.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_at_once_never_exceed_the_cap(settings):
    settings.MEDIAHUB_MAX_RUNNING_JOBS_PER_USER = 2
    owner = get_user_model().objects.create_user("dave")
    queue(owner, count=10)
    barrier = threading.Barrier(6)
    claimed: list[str | None] = []

    def worker(number: int):
        try:
            barrier.wait()
            job = job_claim_next(worker=f"test:{number}")
            claimed.append(job and job.id)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(claimed) == 6
    assert len([job_id for job_id in claimed if job_id]) == 2
    assert Job.objects.filter(status=Job.Status.RUNNING).count() == 2
