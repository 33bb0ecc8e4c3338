"""Rate limits (token buckets per key), the WebSocket cap, and quotas checked before work starts."""

import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from rest_framework.test import APIClient

from mediahub.asgi import application


@pytest.fixture
def limits(settings):
    cache.clear()
    settings.MEDIAHUB_RATE_LIMITS = {"public": (60, 10), "internal": (1000, 100)}
    return settings


def test_a_burst_of_ten_then_429_with_retry_after(alice_api, limits):
    statuses = [alice_api.get("/api/v1/jobs").status_code for _ in range(11)]

    assert statuses == [200] * 10 + [429]
    refused = alice_api.get("/api/v1/jobs")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 2  # one token comes back every second at 60/min
    assert refused.json()["error"]["code"] == "throttled"
    assert "throttled" in refused.json()["error"]["message"]


def test_each_key_has_its_own_bucket(alice_api, bob_api, limits):
    for _ in range(10):
        alice_api.get("/api/v1/jobs")

    assert alice_api.get("/api/v1/jobs").status_code == 429
    assert bob_api.get("/api/v1/jobs").status_code == 200


def test_tokens_come_back_at_the_sustained_rate(alice_api, limits, monkeypatch):
    clock = [time.time()]
    monkeypatch.setattr("mediahub.throttling.time.time", lambda: clock[0])
    for _ in range(10):
        assert alice_api.get("/api/v1/jobs").status_code == 200
    assert alice_api.get("/api/v1/jobs").status_code == 429

    clock[0] += 3.0  # 60/min: three tokens in three seconds

    assert [alice_api.get("/api/v1/jobs").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_internal_api_has_its_own_larger_bucket(alice, alice_api, limits):
    alice[0].is_staff = True
    alice[0].save()
    secret = alice_api.post("/api/v1/keys", {"name": "svc", "scopes": ["internal"]}, format="json").json()["secret"]
    internal = APIClient()
    internal.credentials(HTTP_AUTHORIZATION=f"Token {secret}")

    statuses = [internal.get("/internal/v1/queue").status_code for _ in range(60)]

    assert statuses == [200] * 60


def test_health_is_never_throttled(client, db, limits):
    assert {client.get("/api/v1/health").status_code for _ in range(30)} <= {200, 503}


async def _connect(raw_key: str) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(application, f"/ws/jobs/?token={raw_key}")
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
async def test_websockets_are_capped_per_user(alice, bob, settings):
    await database_sync_to_async(cache.clear)()
    settings.MEDIAHUB_MAX_WEBSOCKETS_PER_USER = 3
    opened = [await _connect(alice[1]) for _ in range(3)]
    assert all(connected for _, connected, _ in opened)

    fourth, connected, code = await _connect(alice[1])
    assert (connected, code) == (False, 4429)
    bobs, bob_connected, _ = await _connect(bob[1])  # someone else's sockets do not count
    assert bob_connected

    await opened[0][0].disconnect()
    again, connected, _ = await _connect(alice[1])  # a closed socket frees its place
    assert connected
    for communicator in [*(c for c, _, _ in opened[1:]), again, bobs]:
        await communicator.disconnect()


def test_storage_quota_refuses_uploads_and_jobs_before_any_work(alice_api, upload, clip_path, settings):
    asset = upload(alice_api, clip_path)
    settings.MEDIAHUB_STORAGE_QUOTA_MB = 1
    used = clip_path.stat().st_size
    big = clip_path.parent / "quota-filler.bin"
    big.write_bytes(b"\0" * (1024 * 1024 - used + 1))

    with open(big, "rb") as fh:
        refused = alice_api.post("/api/v1/assets", {"file": fh}, format="multipart")
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "storage_quota_exceeded"

    settings.MEDIAHUB_STORAGE_QUOTA_MB = 0.0001  # already over: no job may start
    job = alice_api.post("/api/v1/jobs", {"operation": "transcode", "input": asset["id"]}, format="json")
    assert job.status_code == 413
    assert job.json()["error"]["code"] == "storage_quota_exceeded"


def test_too_many_unfinished_jobs_is_429_before_anything_is_created(alice_api, alice_clip, settings):
    from jobs.models import Job

    settings.MEDIAHUB_MAX_ACTIVE_JOBS_PER_USER = 2
    body = {"operation": "transcode", "input": alice_clip["id"]}
    batch = alice_api.post("/api/v1/batches", {"jobs": [body] * 3}, format="json")
    assert batch.status_code == 429
    assert batch.json()["error"]["code"] == "too_many_jobs"
    assert not Job.objects.exists()
