"""The app served by a real uvicorn (in a thread of the test, on a free loopback port): uploads are refused
before their bodies are read, stored when accepted, progress arrives over WebSockets, and proxy headers count
only from trusted peers."""

import json
import select
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from asgiref.sync import SyncToAsync
from django.db import connections
from django.test import Client
from django.utils import timezone
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from jobs.models import Asset, Job
from keys.models import ApiKey
from keys.services import apikey_create
from mediahub.asgi import application, build_application
from tests.media import make_clip, probe

MULTIPART_HEAD = "Content-Type: multipart/form-data; boundary=mediahub-test\r\n"
CSRF_SECRET = "a" * 32


class LiveServer:
    """uvicorn (httptools, websockets) serving `app` from a daemon thread; stopped like a server on SIGTERM."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, http="httptools", ws="websockets-sansio", lifespan="off", proxy_headers=False, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@pytest.fixture(autouse=True)
def _close_connection_of_the_database_thread(transactional_db):
    """The upload layer and consumers query from asgiref's shared sync thread; close its connection so the
    test database can go."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


@pytest.fixture
def live():
    with LiveServer(application) as server:
        yield server


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {name.lower(): value for name, value in headers.items()}
    return Answer(int(lines[0].split()[1]), headers, body[: int(headers.get("content-length", len(body)))])


def exchange(port: int, head: str, body_chunks=()) -> tuple[Answer, int]:
    """Send a request head, then body chunks for as long as no answer is readable; (the answer, the body bytes
    sent before it came)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head.encode("latin-1"))
        for chunk in body_chunks:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        raw = b""
        try:
            while data := sock.recv(65536):
                raw += data
        except ConnectionResetError:
            pass
    assert raw, "the connection closed without an answer"
    return parse(raw), sent


def post_head(path: str, *, length: int | None = None, headers: str = "") -> str:
    framing = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{MULTIPART_HEAD}{framing}{headers}\r\n"


def chunked(total: int, size: int = 64 * 1024):
    for _ in range(total // size):
        yield b"%x\r\n" % size + b"\0" * size + b"\r\n"


# --- refused before the body -----------------------------------------------------------------------------


def test_an_upload_without_credentials_gets_401_before_any_body_byte_is_sent(live):
    answer, _ = exchange(live.port, post_head("/api/v1/assets", length=300 * 2**20))

    assert answer.status == 401
    assert answer.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }
    assert answer.headers["www-authenticate"] == "Token"
    assert answer.headers["connection"] == "close"
    assert not Asset.objects.exists()


def _key(user, **fields) -> str:
    return apikey_create(owner=user, name="case", scopes=fields.pop("scopes", ["read", "write"]), **fields)[1]


def _expired_key(user) -> str:
    key, raw = apikey_create(owner=user, name="old", scopes=["write"])
    key.expires_at = timezone.now() - timedelta(seconds=1)
    key.save()
    return raw


# The Authorization header of each case (None: no header).
CREDENTIAL_CASES = {
    "none": lambda user: None,
    "not-a-token-header": lambda user: "Basic YWxpY2U6eA==",
    "unknown-key": lambda user: "Token mh_live_0000000000000000000000000000000000000000",
    "expired-key": lambda user: f"Token {_expired_key(user)}",
    "read-only-key": lambda user: f"Bearer {_key(user, scopes=['read'])}",
    "key-for-another-network": lambda user: f"Token {_key(user, allowed_ips=['198.51.100.0/24'])}",
}


@pytest.mark.parametrize("case", CREDENTIAL_CASES)
def test_early_refusals_answer_what_the_api_answers_for_the_same_credentials(live, alice, case):
    authorization = CREDENTIAL_CASES[case](alice[0])
    client = Client(**({"HTTP_AUTHORIZATION": authorization} if authorization else {}))
    expected = client.post("/api/v1/assets", {"file": b"x"})  # Django's own handling, the body read first
    header = f"Authorization: {authorization}\r\n" if authorization else ""

    answer, _ = exchange(live.port, post_head("/api/v1/assets", length=50 * 2**20, headers=header))

    assert expected.status_code in (401, 403)
    assert (answer.status, answer.json()) == (expected.status_code, expected.json())
    assert answer.headers.get("www-authenticate") == expected.headers.get("WWW-Authenticate")


def test_a_declared_length_over_the_limit_gets_413_at_once(live, alice, settings):
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = 10 * 2**20
    head = post_head("/api/v1/assets", length=11 * 2**20, headers=f"Authorization: Token {alice[1]}\r\n")

    answer, _ = exchange(live.port, head)

    assert answer.status == 413
    assert answer.json() == {
        "error": {"code": "upload_too_large", "message": "The upload is larger than the 10 MB limit."}
    }


def test_a_chunked_body_past_the_limit_is_cut_off_with_413(live, alice, settings):
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = 256 * 1024
    head = post_head("/api/v1/assets", headers=f"Authorization: Token {alice[1]}\r\n")

    answer, sent = exchange(live.port, head, chunked(256 * 2**20))

    assert answer.status == 413
    assert answer.json()["error"]["code"] == "upload_too_large"
    assert sent < 64 * 2**20  # the answer came while the body was still being sent
    assert not Asset.objects.exists()


def test_the_dashboard_upload_sends_visitors_to_the_login_page_before_the_body(live):
    answer, _ = exchange(live.port, post_head("/jobs/new", length=300 * 2**20))

    assert answer.status == 302
    assert answer.headers["location"] == "/accounts/login/?next=/jobs/new"


def test_a_forged_session_cookie_is_not_a_login(live, alice):
    forged = "Cookie: sessionid=0123456789abcdefghijklmnopqrstuv\r\n"

    api, _ = exchange(live.port, post_head("/api/v1/assets", length=2**20, headers=forged))
    page, _ = exchange(live.port, post_head("/jobs/new", length=2**20, headers=forged))

    assert api.status == 401
    assert page.status == 302


# --- accepted uploads ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def few_mib_clip(tmp_path_factory) -> Path:
    path = make_clip(tmp_path_factory.mktemp("serving") / "few-mib.mp4", seconds=3, size="1280x720")
    assert path.stat().st_size > 2**20
    return path


def test_an_upload_through_the_server_is_stored_byte_identical_and_probed(live, alice, few_mib_clip, settings):
    with open(few_mib_clip, "rb") as fh:
        response = httpx.post(
            f"{live.url}/api/v1/assets",
            files={"file": ("talk.mp4", fh, "video/mp4")},
            headers={"Authorization": f"Token {alice[1]}"},
            timeout=60,
        )

    assert response.status_code == 201, response.text
    data = response.json()
    asset = Asset.objects.get(id=data["id"], owner=alice[0])
    assert Path(asset.file.path).read_bytes() == few_mib_clip.read_bytes()
    assert data["size"] == few_mib_clip.stat().st_size
    assert (data["width"], data["height"]) == (1280, 720)
    assert data["duration"] == pytest.approx(float(probe(few_mib_clip)["format"]["duration"]), abs=0.1)
    work = Path(settings.MEDIAHUB_WORK_DIR)
    assert not work.exists() or not any(work.iterdir())  # the upload's temp file was moved into storage


def test_the_dashboard_upload_works_through_the_server(live, alice, clip_path):
    browser = Client()
    browser.force_login(alice[0])
    cookies = {"sessionid": browser.cookies["sessionid"].value, "csrftoken": CSRF_SECRET}
    with open(clip_path, "rb") as fh:
        response = httpx.post(
            f"{live.url}/jobs/new",
            files={"file": ("clip.mp4", fh, "video/mp4")},
            data={"format": "mp4", "quality": "low"},
            cookies=cookies,
            headers={"X-CSRFToken": CSRF_SECRET},
            timeout=60,
        )

    job = Job.objects.get(owner=alice[0])
    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"/jobs/{job.id}/"


# --- realtime ----------------------------------------------------------------------------------------------


def test_transcode_progress_arrives_over_a_websocket_through_the_server(live, alice, long_clip_path):
    key = alice[1]
    asset = httpx.post(
        f"{live.url}/api/v1/assets",
        files={"file": ("long.mp4", long_clip_path.read_bytes(), "video/mp4")},
        headers={"Authorization": f"Token {key}"},
        timeout=60,
    ).json()
    updates = []
    with ws_connect(f"ws://127.0.0.1:{live.port}/ws/jobs/?token={key}", open_timeout=10) as ws:
        submit = threading.Thread(
            target=httpx.post,
            args=(f"{live.url}/api/v1/jobs",),
            kwargs={
                "json": {"operation": "transcode", "inputs": [asset["id"]], "params": {"format": "mp4"}},
                "headers": {"Authorization": f"Token {key}"},
                "timeout": 120,
            },
        )
        submit.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=deadline - time.monotonic()))
            if message.get("type") == "job.update":
                updates.append(message["job"])
                if message["job"]["status"] in ("succeeded", "failed"):
                    break
        submit.join(timeout=30)

    assert updates[-1]["status"] == "succeeded"
    assert updates[-1]["progress"] == 100
    assert any(update["status"] == "running" and 0 < update["progress"] < 100 for update in updates)


# --- proxy headers ------------------------------------------------------------------------------------------


@pytest.fixture
def behind_proxy(settings):
    """serve(trusted) → a live server whose app trusts proxy headers from those networks."""

    def serve(trusted: list[str]) -> LiveServer:
        settings.MEDIAHUB_TRUSTED_PROXIES = trusted
        return LiveServer(build_application())

    return serve


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def test_a_trusted_proxy_gives_the_client_address_and_scheme(behind_proxy, alice, clip_path):
    raw = _key(alice[0], allowed_ips=["203.0.113.0/24"])
    with behind_proxy(["127.0.0.0/8"]) as server:
        jobs = httpx.get(f"{server.url}/api/v1/jobs", headers={"Authorization": f"Token {raw}", **FORWARDED})
        upload = httpx.post(
            f"{server.url}/api/v1/assets",
            files={"file": ("clip.mp4", clip_path.read_bytes(), "video/mp4")},
            headers={"Authorization": f"Token {raw}", **FORWARDED},
            timeout=60,
        )

    assert jobs.status_code == 200, jobs.text
    assert upload.status_code == 201, upload.text
    assert upload.json()["content_url"].startswith("https://127.0.0.1:")
    assert ApiKey.objects.get(owner=alice[0], name="case").last_used_ip == "203.0.113.7"


@pytest.mark.parametrize("trusted", [[], ["10.0.0.0/8"]], ids=["no-proxies", "another-proxy"])
def test_an_untrusted_peer_cannot_claim_an_address_or_scheme(behind_proxy, alice, clip_path, trusted):
    raw = _key(alice[0], allowed_ips=["203.0.113.0/24"])
    with behind_proxy(trusted) as server:
        jobs = httpx.get(f"{server.url}/api/v1/jobs", headers={"Authorization": f"Token {raw}", **FORWARDED})
        upload = httpx.post(
            f"{server.url}/api/v1/assets",
            files={"file": ("clip.mp4", clip_path.read_bytes(), "video/mp4")},
            headers={"Authorization": f"Token {alice[1]}", **FORWARDED},
            timeout=60,
        )

    assert jobs.status_code == 403
    assert jobs.json()["error"]["message"] == "This API key may not be used from this network address."
    assert upload.status_code == 201, upload.text
    assert upload.json()["content_url"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize("trusted, connects", [(["127.0.0.1"], True), ([], False)], ids=["trusted", "untrusted"])
def test_websockets_see_the_forwarded_address_only_from_a_trusted_proxy(behind_proxy, alice, trusted, connects):
    raw = _key(alice[0], allowed_ips=["203.0.113.0/24"])
    with behind_proxy(trusted) as server:
        url = f"ws://127.0.0.1:{server.port}/ws/jobs/?token={raw}"
        try:
            with ws_connect(url, additional_headers=FORWARDED, open_timeout=10):
                connected = True
        except InvalidStatus as refused:
            connected = False
            assert refused.response.status_code == 403

    assert connected is connects


def test_an_address_a_client_forged_before_the_proxy_is_not_believed(behind_proxy, alice):
    raw = _key(alice[0], allowed_ips=["203.0.113.0/24"])
    # The client sent "X-Forwarded-For: 203.0.113.7"; the proxy appended the address it really came from.
    forged = {"Authorization": f"Token {raw}", "X-Forwarded-For": "203.0.113.7, 198.51.100.9"}
    with behind_proxy(["127.0.0.1"]) as server:
        response = httpx.get(f"{server.url}/api/v1/jobs", headers=forged)

    assert response.status_code == 403
    assert ApiKey.objects.get(owner=alice[0], name="case").last_used_ip is None
