import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django_q.conf import Conf
from rest_framework.test import APIClient

from keys.services import apikey_create
from tests.media import make_clip, make_tone
from tests.providers.fakes.openai import FakeOpenAI
from tests.receiver import Receiver


def pytest_configure(config):
    """Under pytest-xdist each worker has its own database, so user ids repeat across workers: their Redis
    channel groups (`user.<id>`) and cache keys are kept apart too."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and settings.REDIS_URL:
        settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"asgi-{worker}"
        settings.CACHES["default"]["KEY_PREFIX"] = worker


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Each test gets its own media and work dirs; jobs run inline (django-q2 sync mode) when committed;
    passwords use a fast hasher (PBKDF2 would spend most of the suite's time making personas)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIAHUB_WORK_DIR = tmp_path / "work"
    # Tests fire requests faster than any client; the rate-limit tests set their own limits.
    settings.MEDIAHUB_RATE_LIMITS = {}  # a budget missing from the setting is not limited
    previous, Conf.SYNC = Conf.SYNC, True
    yield
    Conf.SYNC = previous


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media-fixtures")


@pytest.fixture(scope="session")
def clip_path(media_dir) -> Path:
    """2 s, 320×240, 25 fps H.264 + AAC."""
    return make_clip(media_dir / "clip.mp4")


@pytest.fixture(scope="session")
def silent_clip_path(media_dir) -> Path:
    return make_clip(media_dir / "silent.mp4", audio=False)


@pytest.fixture(scope="session")
def tone_path(media_dir) -> Path:
    return make_tone(media_dir / "tone.mp3")


@pytest.fixture(scope="session")
def random_bytes_path(media_dir) -> Path:
    path = media_dir / "random.mp4"
    path.write_bytes(bytes(range(256)) * 64)
    return path


@pytest.fixture
def long_clip_path(media_dir) -> Path:
    """A longer, larger clip for progress and cancel tests (made per test file use, then cached)."""
    path = media_dir / "long.mp4"
    if not path.exists():
        make_clip(path, seconds=20, size="640x360")
    return path


@pytest.fixture
def alice_clip(alice_api, upload, clip_path) -> dict:
    """Alice's upload of `clip_path`."""
    return upload(alice_api, clip_path)


@pytest.fixture(scope="session")
def provider_video(tmp_path_factory):
    """What the imitation providers hand out: a real 2 s 320×240 H.264/AAC MP4."""
    return make_clip(tmp_path_factory.mktemp("provider-video") / "generated.mp4", seconds=2)


@pytest.fixture
def openai_fake(settings, provider_video):
    """An OpenAI-style Videos API on 127.0.0.1 standing in for the provider (its URLs allowed past the SSRF check)."""
    fake = FakeOpenAI(provider_video).start()
    settings.MEDIAHUB_PROVIDERS = {"openai": {"base_url": fake.url}}
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    yield fake
    fake.stop()


@pytest.fixture
def receiver(settings):
    """A webhook receiver on 127.0.0.1 (loopback allowed through the SSRF check for the test)."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    server = Receiver().start()
    yield server
    server.stop()


def _persona(username: str):
    user = get_user_model().objects.create_user(username=username, password=f"{username}-password")
    key, raw = apikey_create(owner=user, name="tests", scopes=["read", "write", "generate", "admin"])
    return user, raw


@pytest.fixture
def alice(db):
    return _persona("alice")


@pytest.fixture
def bob(db):
    return _persona("bob")


def _client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return _client(alice[1])


@pytest.fixture
def bob_api(bob) -> APIClient:
    return _client(bob[1])


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def upload(tmp_path):
    """upload(client, path) → the created asset's JSON (asserting 201)."""

    def _upload(client: APIClient, path: Path) -> dict:
        with open(path, "rb") as fh:
            response = client.post("/api/v1/assets", {"file": fh}, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()

    return _upload


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):
    """run_job(client, body) → the job JSON after it ran to completion inline."""

    def _run(client: APIClient, body: dict) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/jobs", body, format="json")
        assert response.status_code == 202, response.content
        return client.get(f"/api/v1/jobs/{response.json()['id']}").json()

    return _run


@pytest.fixture
def fetch_output(alice_api, tmp_path):
    """Download an output asset's bytes to a local file and return its path."""

    def _fetch(asset: dict, client: APIClient | None = None) -> Path:
        response = (client or alice_api).get(f"/api/v1/assets/{asset['id']}/content")
        assert response.status_code == 200
        path = tmp_path / f"{asset['id']}-{asset['name']}"
        path.write_bytes(b"".join(response.streaming_content))
        return path

    return _fetch


def pytest_report_header(config):
    return f"ffmpeg: {shutil.which('ffmpeg')}"
