"""Rate limits (token buckets per user and budget, with RateLimit headers), the WebSocket cap, and quotas checked
before work starts."""

import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache, caches
from rest_framework.request import Request
from rest_framework.test import APIClient

from keys.services import apikey_create
from mediahub.asgi import application
from mediahub.throttling import RateLimitThrottle


@pytest.fixture
def limits(settings):
    """limits(read=(per minute, burst), …): the budgets for the test; the others are not limited."""
    cache.clear()  # with Redis, the buckets are in its database
    caches["ratelimit"].clear()

    def set_limits(**budgets):
        settings.MEDIAHUB_RATE_LIMITS = budgets

    return set_limits


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    return client


def test_a_burst_then_429_in_the_error_shape_with_retry_after(alice_api, limits):
    limits(read=(60, 10))
    statuses = [alice_api.get("/api/v1/jobs").status_code for _ in range(11)]

    assert statuses == [200] * 10 + [429]
    refused = alice_api.get("/api/v1/jobs")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 2  # one request comes back every second at 60/min
    assert refused.json()["error"]["code"] == "throttled"
    assert "throttled" in refused.json()["error"]["message"]
    assert refused["RateLimit"].startswith('"read";r=0;t=')


def test_answers_carry_the_policy_and_what_is_left_of_it(alice_api, limits):
    limits(read=(600, 600))

    first, second = alice_api.get("/api/v1/jobs"), alice_api.get("/api/v1/jobs")

    assert first["RateLimit-Policy"] == '"read";q=600;w=60'
    assert first["RateLimit"] == '"read";r=599;t=1'
    assert second["RateLimit"] == '"read";r=598;t=1'


def test_all_keys_of_a_user_share_one_budget(alice, alice_api, bob_api, limits):
    limits(read=(60, 6))
    _, second_secret = apikey_create(owner=alice[0], name="second", scopes=["read"])
    second_key = key_client(second_secret)

    statuses = [client.get("/api/v1/jobs").status_code for client in (alice_api, second_key) * 4]

    assert statuses == [200] * 6 + [429] * 2  # a new key is no way around the limit
    assert bob_api.get("/api/v1/jobs").status_code == 200  # another user has a budget of his own


def test_reads_and_writes_have_separate_budgets(alice_api, limits):
    limits(read=(60, 3), write=(60, 2))
    invalid_job = {"operation": "no-such-operation"}

    reads = [alice_api.get("/api/v1/jobs").status_code for _ in range(4)]
    writes = [alice_api.post("/api/v1/jobs", invalid_job, format="json") for _ in range(3)]

    assert reads == [200, 200, 200, 429]
    assert [response.status_code for response in writes] == [400, 400, 429]  # reads used up: writes still go
    assert writes[0]["RateLimit-Policy"] == '"write";q=2;w=2'
    assert alice_api.get("/api/v1/jobs").status_code == 429


def test_media_content_draws_on_its_own_budget(alice_api, alice_clip, limits):
    limits(read=(60, 2), content=(60, 100))

    downloads = [alice_api.get(f"/api/v1/assets/{alice_clip['id']}/content") for _ in range(5)]
    member = alice_api.get(f"/api/v1/assets/{alice_clip['id']}/content/seg-00001.ts")

    assert [response.status_code for response in downloads] == [200] * 5
    assert downloads[-1]["RateLimit-Policy"] == '"content";q=100;w=100'
    assert member["RateLimit"].startswith('"content";r=94;')  # stream members (HLS segments) too
    assert [alice_api.get("/api/v1/jobs").status_code for _ in range(3)] == [200, 200, 429]


def test_content_is_not_limited_when_its_budget_is_zero(alice_api, alice_clip, limits):
    limits(read=(60, 1), content=(0, 0))

    downloads = [alice_api.get(f"/api/v1/assets/{alice_clip['id']}/content") for _ in range(5)]

    assert [response.status_code for response in downloads] == [200] * 5
    assert "RateLimit" not in downloads[-1]


def test_requests_come_back_at_the_sustained_rate(alice_api, limits, monkeypatch):
    limits(read=(60, 10))
    clock = [time.time()]
    monkeypatch.setattr("mediahub.throttling.time.time", lambda: clock[0])
    for _ in range(10):
        assert alice_api.get("/api/v1/jobs").status_code == 200
    assert alice_api.get("/api/v1/jobs").status_code == 429

    clock[0] += 3.0  # 60/min: three requests in three seconds

    assert [alice_api.get("/api/v1/jobs").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_anonymous_clients_are_counted_per_address(rf):
    throttle = RateLimitThrottle()

    one = throttle.ident(Request(rf.get("/api/v1/jobs", REMOTE_ADDR="192.0.2.1")))
    other = throttle.ident(Request(rf.get("/api/v1/jobs", REMOTE_ADDR="192.0.2.2")))

    assert (one, other) == ("ip:192.0.2.1", "ip:192.0.2.2")


def test_the_internal_api_has_its_own_larger_bucket(alice, alice_api, limits):
    limits(read=(60, 10), write=(60, 10), internal=(1000, 100))
    alice[0].is_staff = True
    alice[0].save()
    secret = alice_api.post("/api/v1/keys", {"name": "svc", "scopes": ["internal"]}, format="json").json()["secret"]
    internal = key_client(secret)

    statuses = [internal.get("/internal/v1/queue").status_code for _ in range(60)]

    assert statuses == [200] * 60
    assert alice_api.get("/api/v1/jobs").status_code == 200  # the internal calls used none of the API's reads


def test_health_is_never_throttled(client, db, limits):
    limits(read=(60, 1))
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

