"""Live job updates: WebSockets against the real ASGI application, the channel layer, and Server-Sent Events."""

import json
import os
import threading
import time
import uuid

import pytest
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, connections
from django.utils import timezone

from jobs.models import Job
from jobs.realtime import JobEvents
from mediahub.asgi import application

BROWSER_ORIGIN = (b"origin", b"http://testserver")
REDIS_URL = os.environ.get("REDIS_URL")


@pytest.fixture(autouse=True)
def _close_connection_of_the_database_thread():
    """Consumers query from asgiref's one shared sync thread; close its connection so the test database can go."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


def make_job(user, **fields) -> Job:
    return Job.objects.create(owner=user, operation="transcode", params={"format": "mp4"}, **fields)


@pytest.fixture
def alice_job(alice) -> Job:
    return make_job(alice[0])


@pytest.fixture
def bob_job(bob) -> Job:
    return make_job(bob[0])


def socket(path: str, *, token: str | None = None, authorization: str | None = None, origin: bool = True):
    headers = [BROWSER_ORIGIN] if origin else []
    if authorization:
        headers.append((b"authorization", authorization.encode()))
    if token:
        path = f"{path}?token={token}"
    return WebsocketCommunicator(application, path, headers=headers)


async def connected(communicator: WebsocketCommunicator) -> WebsocketCommunicator:
    ok, code = await communicator.connect(timeout=5)
    assert ok, f"connection refused (close code {code})"
    return communicator


async def next_update(communicator: WebsocketCommunicator, timeout: float = 3) -> dict:
    message = await communicator.receive_json_from(timeout=timeout)
    assert message["type"] == "job.update", message
    return message["job"]


async def update_row(job: Job, **fields) -> None:
    await sync_to_async(Job.objects.filter(id=job.id).update)(updated_at=timezone.now(), **fields)


# --- connecting -----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["query-token", "token-header", "bearer-header"])
async def test_key_holder_connects_and_gets_the_current_state(alice, alice_job, how):
    raw = alice[1]
    auth = {
        "query-token": {"token": raw},
        "token-header": {"authorization": f"Token {raw}"},
        "bearer-header": {"authorization": f"Bearer {raw}"},
    }[how]
    communicator = await connected(socket(f"/ws/jobs/{alice_job.id}/", **auth))
    try:
        job = await next_update(communicator)
        assert job["id"] == alice_job.id
        assert job["status"] == "queued"
        assert job["progress"] == 0
        assert {"operation", "stage", "eta_seconds", "outputs", "error", "attempts"} <= set(job)
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_api_client_without_origin_header_connects_with_its_key(alice, alice_job):
    """Programs (not browsers) send no Origin header; their key is their proof, as on the REST API."""
    communicator = socket(f"/ws/jobs/{alice_job.id}/", authorization=f"Token {alice[1]}", origin=False)
    await connected(communicator)
    try:
        assert (await next_update(communicator))["id"] == alice_job.id
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/jobs/", "job"])
@pytest.mark.parametrize(
    "auth",
    [{}, {"token": "mh_live_notarealkeynotarealkeynotarealkeynotareal"}, {"authorization": "Token nonsense"}],
    ids=["anonymous", "unknown-key", "malformed-header"],
)
async def test_without_a_valid_key_the_socket_is_refused(alice_job, path, auth):
    communicator = socket(f"/ws/jobs/{alice_job.id}/" if path == "job" else path, **auth)
    ok, _ = await communicator.connect(timeout=5)
    assert ok is False
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_revoked_key_cannot_connect(alice, alice_job):
    from keys.models import ApiKey

    await sync_to_async(ApiKey.objects.filter(owner=alice[0]).update)(revoked_at=timezone.now())
    ok, _ = await socket(f"/ws/jobs/{alice_job.id}/", token=alice[1]).connect(timeout=5)
    assert ok is False


@pytest.mark.django_db(transaction=True)
async def test_other_user_cannot_open_a_jobs_socket(bob, alice_job):
    communicator = socket(f"/ws/jobs/{alice_job.id}/", token=bob[1])
    ok, _ = await communicator.connect(timeout=5)
    assert ok is False
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_unknown_job_socket_is_refused(alice):
    ok, _ = await socket("/ws/jobs/job_doesnotexist/", token=alice[1]).connect(timeout=5)
    assert ok is False


# --- updates (embedded default: the consumer polls the rows) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_job_socket_receives_each_change(alice, alice_job, settings):
    assert settings.REALTIME_POLL_DATABASE or REDIS_URL
    settings.REALTIME_POLL_DATABASE = True
    communicator = await connected(socket(f"/ws/jobs/{alice_job.id}/", token=alice[1]))
    try:
        assert (await next_update(communicator))["status"] == "queued"

        await update_row(alice_job, status="running", progress=42.5, stage="transcoding")
        job = await next_update(communicator)
        assert job["id"] == alice_job.id
        assert (job["status"], job["progress"], job["stage"]) == ("running", 42.5, "transcoding")

        await update_row(alice_job, status="succeeded", progress=100, finished_at=timezone.now())
        job = await next_update(communicator)
        assert (job["status"], job["progress"]) == ("succeeded", 100)
        assert job["finished_at"]

        # Nothing changed: nothing sent.
        assert await communicator.receive_nothing(timeout=1.2)
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_user_socket_gets_own_jobs_and_never_another_users(alice, bob, alice_job, bob_job, settings):
    settings.REALTIME_POLL_DATABASE = True
    second = await sync_to_async(make_job)(alice[0])
    alices = await connected(socket("/ws/jobs/", token=alice[1]))
    bobs = await connected(socket("/ws/jobs/", token=bob[1]))
    try:
        on_connect = {(await next_update(alices))["id"] for _ in range(2)}
        assert on_connect == {alice_job.id, second.id}
        assert (await next_update(bobs))["id"] == bob_job.id
        assert await bobs.receive_nothing(timeout=0.3)

        await update_row(second, status="running", progress=10)
        job = await next_update(alices)
        assert (job["id"], job["progress"]) == (second.id, 10)
        # Bob's socket stays quiet through two poll rounds while Alice's job changes.
        assert await bobs.receive_nothing(timeout=1.2)

        await update_row(bob_job, status="running", progress=5)
        assert (await next_update(bobs))["id"] == bob_job.id
        assert await alices.receive_nothing(timeout=1.2)
    finally:
        await alices.disconnect()
        await bobs.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ping_gets_pong(alice, alice_job):
    communicator = await connected(socket(f"/ws/jobs/{alice_job.id}/", token=alice[1]))
    try:
        await next_update(communicator)
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}
    finally:
        await communicator.disconnect()


# --- updates through the channel layer (JobEvents → group_send → consumer) -------------------------------------


async def assert_layer_delivers(alice, bob, alice_job) -> None:
    """With polling off, a JobEvents.changed call is the only way a message can reach the sockets."""
    job_socket = await connected(socket(f"/ws/jobs/{alice_job.id}/", token=alice[1]))
    user_socket = await connected(socket("/ws/jobs/", token=alice[1]))
    bob_socket = await connected(socket("/ws/jobs/", token=bob[1]))
    try:
        await next_update(job_socket)
        await next_update(user_socket)

        await update_row(alice_job, status="running", progress=61)
        assert await job_socket.receive_nothing(timeout=1.2), "polling is off: no message before the event"
        await sync_to_async(alice_job.refresh_from_db)()
        await sync_to_async(JobEvents.changed)(alice_job)

        for communicator in (job_socket, user_socket):
            job = await next_update(communicator)
            assert (job["id"], job["status"], job["progress"]) == (alice_job.id, "running", 61)
        assert await bob_socket.receive_nothing(timeout=0.5)
    finally:
        for communicator in (job_socket, user_socket, bob_socket):
            await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_channel_layer_delivers_job_events_when_polling_is_off(alice, bob, alice_job, settings):
    settings.REALTIME_POLL_DATABASE = False
    await assert_layer_delivers(alice, bob, alice_job)


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set (the Redis path runs in CI)")
@pytest.mark.django_db(transaction=True)
async def test_redis_channel_layer_delivers_job_events(alice, bob, alice_job, settings):
    settings.REALTIME_POLL_DATABASE = False
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"mediahub-test-{uuid.uuid4().hex[:8]}"},
        }
    }
    from channels.layers import get_channel_layer
    from channels_redis.core import RedisChannelLayer

    assert isinstance(get_channel_layer(), RedisChannelLayer)
    await assert_layer_delivers(alice, bob, alice_job)


def test_job_succeeds_while_the_channel_layer_is_unreachable(alice_api, upload, run_job, clip_path, settings):
    """Events are best effort: a Redis that is restarting must not fail the jobs that send them."""
    settings.REALTIME_POLL_DATABASE = False
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]}}
    }
    asset = upload(alice_api, clip_path)
    done = run_job(alice_api, {"operation": "thumbnail", "input": asset["id"], "params": {"count": 1, "width": 64}})
    assert done["status"] == "succeeded", done["error"]
    assert len(done["outputs"]) == 1


# --- Server-Sent Events ------------------------------------------------------------------------------------------


def read_events(response) -> list[dict]:
    """The whole stream (it ends when the job finishes); the view streams from an async generator."""
    if response.is_async:

        async def collect() -> list[bytes]:
            return [chunk async for chunk in response.streaming_content]

        body = b"".join(async_to_sync(collect)()).decode()
    else:
        body = b"".join(response.streaming_content).decode()
    events = [json.loads(line.removeprefix("data: ")) for line in body.splitlines() if line.startswith("data: ")]
    assert events, body
    return events


def test_events_of_finished_job_end_with_its_final_state(alice_api, upload, run_job, clip_path):
    asset = upload(alice_api, clip_path)
    done = run_job(alice_api, {"operation": "transcode", "input": asset["id"], "params": {"preset": "ultrafast"}})
    assert done["status"] == "succeeded"

    response = alice_api.get(f"/api/v1/jobs/{done['id']}/events")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache"
    events = read_events(response)
    assert events[-1]["id"] == done["id"]
    assert events[-1]["status"] == "succeeded"
    assert events[-1]["progress"] == 100
    assert [output["id"] for output in events[-1]["outputs"]] == [output["id"] for output in done["outputs"]]


def test_events_of_cancelled_job_end_cancelled(alice, alice_api):
    job = make_job(alice[0], status="cancelled", finished_at=timezone.now())
    events = read_events(alice_api.get(f"/api/v1/jobs/{job.id}/events"))
    assert [event["status"] for event in events] == ["cancelled"]


@pytest.mark.django_db(transaction=True)
def test_events_follow_a_running_job_until_it_finishes(alice, alice_api):
    job = make_job(alice[0])

    def worker():
        try:
            for fields in (
                {"status": "running", "progress": 30.0, "stage": "transcoding"},
                {"progress": 70.0},
                {"status": "succeeded", "progress": 100.0, "stage": "done", "finished_at": timezone.now()},
            ):
                time.sleep(0.7)
                Job.objects.filter(id=job.id).update(updated_at=timezone.now(), **fields)
        finally:
            connection.close()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started = time.monotonic()
    events = read_events(alice_api.get(f"/api/v1/jobs/{job.id}/events"))
    thread.join(timeout=5)
    assert time.monotonic() - started < 6  # the stream ended when the job finished
    assert [(event["status"], event["progress"]) for event in events] == [
        ("queued", 0),
        ("running", 30),
        ("running", 70),
        ("succeeded", 100),
    ]


def test_events_of_another_users_job_are_404(alice, bob_api, anon_api):
    job = make_job(alice[0], status="succeeded", finished_at=timezone.now())
    response = bob_api.get(f"/api/v1/jobs/{job.id}/events")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert anon_api.get(f"/api/v1/jobs/{job.id}/events").status_code == 401
