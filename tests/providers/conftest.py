import pytest

from keys.services import provider_credential_create
from tests.media import make_clip
from tests.providers.fakes.openai import FakeOpenAI


@pytest.fixture(autouse=True)
def _quick_polling(settings):
    """Poll the imitation providers every 50 ms instead of every few seconds."""
    settings.MEDIAHUB_GENERATION_MAX_POLL_SECONDS = 0.05


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
def openai_key(alice):
    """Alice's working OpenAI key (the one the imitation accepts)."""
    return provider_credential_create(owner=alice[0], provider="openai", secret=FakeOpenAI.token, label="main")


@pytest.fixture
def generate(django_capture_on_commit_callbacks):
    """generate(client, body) → (response status, the generation JSON after its job ran inline)."""

    def _generate(client, body: dict, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/generations", body, format="json", **headers)
        if response.status_code not in (200, 202):
            return response.status_code, response.json()
        return response.status_code, client.get(f"/api/v1/generations/{response.json()['id']}").json()

    return _generate
