"""Live updates and downloads stay with their owner, through the real ASGI application (mediahub.asgi).

tests/test_isolation.py walks every URL with the test client; this file goes through the ASGI stack the server
runs: WebSockets authenticated by key or by the dashboard's session, Server-Sent Events and asset bytes streamed
by the async views. tests/jobs/test_realtime.py has the rest (a key holder of another user is refused, the
per-user socket stays quiet while another user's jobs change, SSE 404/401 with the test client)."""

from pathlib import Path

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from jobs.models import Job
from jobs.operations.base import OutputFolder
from jobs.realtime import job_group, user_group
from jobs.serializers import job_payload
from jobs.services.assets import asset_create_folder
from mediahub.asgi import application

BROWSER_ORIGIN = b"http://testserver"
UNKNOWN_JOB = "job_00000000000000000000"
UNKNOWN_ASSET = "ast_00000000000000000000"


@pytest.fixture(autouse=True)
def _close_connection_of_the_database_thread():
    """The ASGI app queries from asgiref's one shared sync thread; close its connection so the test database can
    be dropped."""
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


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def credentials(alice, bob):
    """credentials(persona, how) → (query string, headers) for `how` in AUTH; persona is "alice" or "bob"."""
    personas = {"alice": alice, "bob": bob}
    cookies = {}

    def make(persona: str, how: str) -> tuple[str, list[tuple[bytes, bytes]]]:
        user, raw = personas[persona]
        if how == "query-token":
            return f"token={raw}", []
        if how in ("token-header", "bearer-header"):
            scheme = "Token" if how == "token-header" else "Bearer"
            return "", [(b"authorization", f"{scheme} {raw}".encode())]
        if persona not in cookies:
            cookies[persona] = session_cookie(user)
        return "", [(b"cookie", cookies[persona].encode())]

    return make


AUTH = ["query-token", "token-header", "bearer-header", "session"]


def socket(path: str, query: str = "", headers=(), origin: bytes | None = BROWSER_ORIGIN) -> WebsocketCommunicator:
    all_headers = [*([(b"origin", origin)] if origin else []), *headers]
    return WebsocketCommunicator(application, f"{path}?{query}" if query else path, headers=all_headers)


async def connected(communicator: WebsocketCommunicator) -> WebsocketCommunicator:
    ok, code = await communicator.connect(timeout=5)
    assert ok, f"connection refused (close code {code})"
    return communicator


async def refused(communicator: WebsocketCommunicator) -> int:
    ok, code = await communicator.connect(timeout=5)
    await communicator.disconnect()
    assert ok is False, "the socket was accepted"
    return code


async def next_update(communicator: WebsocketCommunicator, timeout: float = 3) -> dict:
    message = await communicator.receive_json_from(timeout=timeout)
    assert message["type"] == "job.update", message
    return message["job"]


# --- WebSockets ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", AUTH)
async def test_another_users_job_socket_is_refused_like_an_unknown_job(alice_job, credentials, how):
    """Refused with the same close code as a job that does not exist, whichever way Bob authenticates, so the
    refusal does not reveal that the job exists; Alice, authenticated the same way, gets it."""
    query, headers = await sync_to_async(credentials)("bob", how)
    others = await refused(socket(f"/ws/jobs/{alice_job.id}/", query, headers))
    unknown = await refused(socket(f"/ws/jobs/{UNKNOWN_JOB}/", query, headers))
    assert others == unknown

    query, headers = await sync_to_async(credentials)("alice", how)
    communicator = await connected(socket(f"/ws/jobs/{alice_job.id}/", query, headers))
    try:
        assert (await next_update(communicator))["id"] == alice_job.id
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin", [b"http://evil.example", b"null", b"http://testserver.evil.example", b"https://evil.example:443"]
)
async def test_another_site_cannot_open_a_socket_with_the_users_session(alice, alice_job, credentials, origin):
    """A page on another origin runs in Alice's browser, which sends her session cookie: its socket is refused
    (cross-site WebSocket hijacking); the dashboard's own origin is the control."""
    _, headers = await sync_to_async(credentials)("alice", "session")
    for path in (f"/ws/jobs/{alice_job.id}/", "/ws/jobs/"):
        await refused(socket(path, headers=headers, origin=origin))

    communicator = await connected(socket(f"/ws/jobs/{alice_job.id}/", headers=headers))
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_event_of_another_users_job_is_dropped_even_when_sent_to_the_socket(
    alice, bob, alice_job, bob_job, settings
):
    """The consumer re-checks the owner of every event: one of Alice's jobs that reaches Bob's groups (a
    misaddressed group_send) is never sent to his sockets. Polling is off, so the layer is the only source."""
    settings.REALTIME_POLL_DATABASE = False
    user_socket = await connected(socket("/ws/jobs/", f"token={bob[1]}"))
    job_socket = await connected(socket(f"/ws/jobs/{bob_job.id}/", f"token={bob[1]}"))
    try:
        assert (await next_update(user_socket))["id"] == bob_job.id
        assert (await next_update(job_socket))["id"] == bob_job.id
        layer = get_channel_layer()
        alices = {"type": "job.update", "owner_id": alice[0].id, "job": await sync_to_async(job_payload)(alice_job)}

        await layer.group_send(user_group(bob[0].id), alices)
        await layer.group_send(job_group(bob_job.id), alices)

        assert await user_socket.receive_nothing(timeout=0.5)
        assert await job_socket.receive_nothing(timeout=0.5)

        # The control: the same message for Bob's own job reaches both sockets.
        await sync_to_async(Job.objects.filter(id=bob_job.id).update)(status="running", progress=33)
        await sync_to_async(bob_job.refresh_from_db)()
        bobs = {"type": "job.update", "owner_id": bob[0].id, "job": await sync_to_async(job_payload)(bob_job)}
        await layer.group_send(user_group(bob[0].id), bobs)
        await layer.group_send(job_group(bob_job.id), bobs)
        assert (await next_update(user_socket))["progress"] == 33
        assert (await next_update(job_socket))["progress"] == 33
    finally:
        await user_socket.disconnect()
        await job_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_dashboards_session_socket_never_gets_another_users_jobs(alice_job, credentials, settings):
    """/ws/jobs/ on the session the dashboard uses: Bob, who has no jobs, gets nothing on connect and nothing while
    Alice's job changes; Alice's own session socket is the control."""
    settings.REALTIME_POLL_DATABASE = True
    _, bob_headers = await sync_to_async(credentials)("bob", "session")
    _, alice_headers = await sync_to_async(credentials)("alice", "session")
    bobs = await connected(socket("/ws/jobs/", headers=bob_headers))
    alices = await connected(socket("/ws/jobs/", headers=alice_headers))
    try:
        assert (await next_update(alices))["id"] == alice_job.id
        assert await bobs.receive_nothing(timeout=1.2)

        await sync_to_async(Job.objects.filter(id=alice_job.id).update)(
            status="running", progress=50, updated_at=timezone.now()
        )
        assert (await next_update(alices))["progress"] == 50
        assert await bobs.receive_nothing(timeout=1.2)
    finally:
        await bobs.disconnect()
        await alices.disconnect()


# --- HTTP through the ASGI application: Server-Sent Events and downloads ------------------------------------------


async def asgi_request(path: str, headers=(), method: str = "GET", timeout: float = 10) -> tuple[int, dict, bytes]:
    """One request through mediahub.asgi.application; the whole response, which must end within `timeout` (a
    stream handed to the wrong user would never end for a queued job)."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout)
    assert start["type"] == "http.response.start", start
    body = b""
    while True:
        message = await communicator.receive_output(timeout)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout)
    return start["status"], {name.decode().lower(): value.decode() for name, value in start["headers"]}, body


WHO = ["other-user-key", "other-user-session", "anonymous"]


@pytest.fixture
def caller(credentials):
    """caller(who) → the headers of Bob by key, Bob by session, or nobody."""

    def headers(who: str) -> list:
        if who == "anonymous":
            return []
        return credentials("bob", "token-header" if who == "other-user-key" else "session")[1]

    return headers


async def assert_refused(who: str, status: int, headers: dict, body: bytes, unknown: tuple | None) -> None:
    if who == "anonymous":
        assert status == 401, body
        assert headers["content-type"].startswith("application/json")
        return
    assert status == 404, body
    assert headers["content-type"].startswith("application/json"), headers
    assert "content-range" not in headers
    # The same answer as for an id that does not exist.
    assert unknown is not None and (unknown[0], unknown[2]) == (404, body)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", WHO)
async def test_job_events_of_another_users_job_are_refused_through_asgi(alice_job, caller, who):
    """Alice's job is queued, so its event stream would never end: a refusal has to come before the stream."""
    headers = await sync_to_async(caller)(who)

    status, response_headers, body = await asgi_request(f"/api/v1/jobs/{alice_job.id}/events", headers)

    unknown = await asgi_request(f"/api/v1/jobs/{UNKNOWN_JOB}/events", headers)
    await assert_refused(who, status, response_headers, body, unknown)
    assert alice_job.id.encode() not in body


@pytest.mark.django_db(transaction=True)
async def test_owner_reads_the_job_events_through_asgi(alice, credentials):
    """The control for the refusals above (a finished job, so the stream ends)."""
    job = await sync_to_async(make_job)(alice[0], status="succeeded", progress=100, finished_at=timezone.now())
    _, headers = await sync_to_async(credentials)("alice", "session")

    status, response_headers, body = await asgi_request(f"/api/v1/jobs/{job.id}/events", headers)

    assert status == 200
    assert response_headers["content-type"].startswith("text/event-stream")
    assert f'"id": "{job.id}"'.encode() in body


@pytest.fixture
def alice_folder_asset(alice, tmp_path):
    """A small folder (HLS-shaped) asset of Alice's, stored the way a streaming job stores one."""
    root = tmp_path / "folder"
    (root / "240p").mkdir(parents=True)
    (root / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/index.m3u8\n")
    (root / "240p" / "index.m3u8").write_text("#EXTM3U\n#EXTINF:2,\nseg_00000.ts\n#EXT-X-ENDLIST\n")
    (root / "240p" / "seg_00000.ts").write_bytes(b"\x47" + b"alice-segment" * 20)
    folder = OutputFolder(path=Path(root), main="master.m3u8", name="ladder", probes=[], duration=2.0)
    return asset_create_folder(owner=alice[0], folder=folder)


def content_paths(asset_id: str, folder_id: str) -> list[tuple[str, list]]:
    """Every way to read asset bytes: the plain content (also by Range), and a folder asset's main file and
    members."""
    return [
        (f"/api/v1/assets/{asset_id}/content", []),
        (f"/api/v1/assets/{asset_id}/content", [(b"range", b"bytes=0-99")]),
        (f"/api/v1/assets/{folder_id}/content", []),
        (f"/api/v1/assets/{folder_id}/content/master.m3u8", []),
        (f"/api/v1/assets/{folder_id}/content/240p/index.m3u8", []),
        (f"/api/v1/assets/{folder_id}/content/240p/seg_00000.ts", [(b"range", b"bytes=0-9")]),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_asset_bytes_of_another_user_are_refused_through_asgi(
    alice_clip, alice_folder_asset, caller, who, method
):
    headers = await sync_to_async(caller)(who)
    for path, extra in content_paths(alice_clip["id"], alice_folder_asset.id):
        status, response_headers, body = await asgi_request(path, [*headers, *extra], method)

        unknown_path = path.replace(alice_clip["id"], UNKNOWN_ASSET).replace(alice_folder_asset.id, UNKNOWN_ASSET)
        unknown = await asgi_request(unknown_path, [*headers, *extra], method)
        if method == "HEAD":  # no body to compare: the status and type must match
            assert status == (401 if who == "anonymous" else 404), (path, status)
            assert unknown[0] == status and unknown[1]["content-type"] == response_headers["content-type"]
            assert "content-range" not in response_headers
            continue
        await assert_refused(who, status, response_headers, body, unknown)
        assert b"alice-segment" not in body and b"#EXTM3U" not in body


@pytest.mark.django_db(transaction=True)
async def test_owner_reads_the_same_asset_bytes_through_asgi(alice_clip, alice_folder_asset, credentials):
    """The control for the refusals above: Alice, by key and by session, gets every one of those URLs."""
    for how in ("token-header", "session"):
        _, headers = await sync_to_async(credentials)("alice", how)
        for path, extra in content_paths(alice_clip["id"], alice_folder_asset.id):
            status, _, body = await asgi_request(path, [*headers, *extra])
            assert status == (206 if extra else 200), (how, path, status)
            assert body
